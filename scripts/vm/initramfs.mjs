// The initramfs: a static busybox, the decompressed modules the guest needs, and init.sh as /init.
// Cached per kernel release + a hash of everything that goes into it.
import { createHash } from 'node:crypto';
import {
  chmodSync,
  copyFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  renameSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { dropTemp, log, run, secs, temp } from './proc.mjs';

const HERE = dirname(fileURLToPath(import.meta.url));
const INIT = join(HERE, 'init.sh');
// busybox-static: nothing else exists in the initramfs to link against. The host's lists the
// applets also for the arm64 one (the same Debian release's package).
const HOST_BUSYBOX = '/bin/busybox';

// What the guest needs: virtio_pci carries the 9p shares; the 6.12 and 7.3 configs have 9P_FS=m,
// NET_9P_VIRTIO=m and DRM_VGEM=m, while virtio_pci, DMABUF_HEAPS_SYSTEM and UDMABUF are built in
// (docs/TESTING.md, "The real-kernel suite"). Roots the kernel has built in (modules.builtin) are skipped; dependencies
// come from each module's own `depends=` (Debian ships no modules.dep: depmod makes it on install),
// so their dependencies (9p on netfs, vgem on drm_shmem_helper, drm_kms_helper and drm, on 6.12
// and 7.3 alike) come without being named here. vivid (VIDEO_VIVID=m on every Debian kernel the
// profiles boot) brings its chain the same way: mc, videodev, videobuf2-common, videobuf2-v4l2,
// videobuf2-memops, videobuf2-vmalloc, videobuf2-dma-contig, v4l2-tpg, v4l2-dv-timings, rc-core,
// cec (../shared/reference/real-kernel.md, "vivid"). Loaded with its defaults: one instance whose
// first node is a single-planar capture node that imports (V4L2_MEMORY_DMABUF) and exports
// (VIDIOC_EXPBUF) dma-bufs through videobuf2-vmalloc.
export const ROOTS = ['virtio_pci', '9pnet_virtio', '9p', 'vgem', 'vivid'];
// Module parameters, given to insmod. vivid makes two instances: 0 with its default allocator
// (videobuf2-vmalloc: it vmaps whatever it imports), 1 with videobuf2-dma-contig (allocators=1),
// which needs physically contiguous memory and refuses a scattered import (udmabuf, the system
// heap) at QBUF: the refusal a contiguous-only camera gives. Instance 0's nodes come first.
export const MODULE_PARAMS = { vivid: 'n_devs=2 allocators=0,1' };
// Loaded where the kernel ships them as modules, skipped where it has them built in or not at all
// (then the profile declares the device absent, and check.sh and the suite hold it to that): the
// system heap is a bool up to 6.12 and tristate in 7.3 (there in modules.builtin, built in).
// virtio_gpu (DRM_VIRTIO_GPU=m on the Debian kernels the profiles boot) drives the x86_64 profiles'
// virtio-gpu-pci; elsewhere it loads and finds no device, and the profile declares none.
export const OPTIONAL_ROOTS = ['system_heap', 'virtio_gpu'];

const modName = (path) =>
  basename(path)
    .replace(/\.ko(\.\w+)?$/, '')
    .replace(/-/g, '_');

/** name -> path of every module file under `dir`. */
function indexModules(dir, index = new Map()) {
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    if (e.isDirectory()) indexModules(join(dir, e.name), index);
    else if (/\.ko(\.\w+)?$/.test(e.name)) index.set(modName(e.name), join(dir, e.name));
  }
  return index;
}

/** The `depends=` entry of a module's .modinfo section: NUL-separated key=value strings. */
function depends(ko) {
  const buf = readFileSync(ko);
  const at = buf.indexOf('\0depends=');
  if (at < 0) return [];
  const value = buf.toString('latin1', at + 9, buf.indexOf(0, at + 9));
  return value
    .split(',')
    .filter(Boolean)
    .map((n) => n.replace(/-/g, '_'));
}

async function decompress(src, dest) {
  if (src.endsWith('.ko')) return copyFileSync(src, dest);
  const tool = { '.xz': 'xz', '.zst': 'zstd', '.gz': 'gzip' }[src.slice(src.lastIndexOf('.'))];
  if (!tool) throw new Error(`unknown module compression: ${src}`);
  // busybox insmod only takes plain .ko files.
  await run('sh', ['-c', `${tool} -dc "$1" > "$2"`, 'sh', src, dest]);
}

/**
 * Decompresses ROOTS, the OPTIONAL_ROOTS the kernel ships as modules, and their dependencies into
 * `outDir` as <name>.ko; returns the names in load order (dependencies first).
 */
async function collectModules(modulesDir, outDir) {
  const index = indexModules(join(modulesDir, 'kernel'));
  const builtin = new Set(readFileSync(join(modulesDir, 'modules.builtin'), 'utf8').split('\n').filter(Boolean).map(modName));
  const order = [];
  const seen = new Set();
  const visit = async (name, optional = false) => {
    if (seen.has(name) || builtin.has(name)) return;
    seen.add(name);
    const src = index.get(name);
    if (!src && optional) return;
    if (!src) throw new Error(`module ${name} is neither built in nor shipped with the kernel`);
    const ko = join(outDir, `${name}.ko`);
    await decompress(src, ko);
    for (const dep of depends(ko)) await visit(dep);
    order.push(name);
  };
  for (const root of ROOTS) await visit(root);
  for (const root of OPTIONAL_ROOTS) await visit(root, true);
  return order;
}

/** Returns the path of the initramfs for `kernel` (see kernel.mjs) with `busybox`, building it if needed. */
export async function getInitramfs(kernel, cacheRoot, busybox = HOST_BUSYBOX) {
  const hash = createHash('sha256')
    .update(kernel.release)
    .update(readFileSync(INIT))
    .update(readFileSync(busybox))
    .update(ROOTS.join(','))
    .update(OPTIONAL_ROOTS.join(','))
    .update(JSON.stringify(MODULE_PARAMS))
    .digest('hex')
    .slice(0, 16);
  const path = join(cacheRoot, `initramfs-${kernel.release}-${hash}.cpio.gz`);
  if (existsSync(path)) {
    log('initramfs (cached)');
    return path;
  }
  const t0 = Date.now();
  let names;
  const stage = temp(mkdtempSync(join(cacheRoot, '.initramfs-')));
  const tmp = temp(`${path}.tmp-${process.pid}`);
  try {
    for (const d of ['bin', 'sbin', 'usr/bin', 'usr/sbin', 'dev', 'proc', 'sys', 'mnt', 'tmp', 'etc', 'lib/modules']) {
      mkdirSync(join(stage, d), { recursive: true });
    }
    copyFileSync(busybox, join(stage, 'bin/busybox'));
    chmodSync(join(stage, 'bin/busybox'), 0o755);
    const { out } = await run(HOST_BUSYBOX, ['--list-full']);
    for (const applet of out.split('\n').filter(Boolean)) {
      if (applet !== 'bin/busybox' && existsSync(join(stage, dirname(applet)))) {
        symlinkSync('/bin/busybox', join(stage, applet));
      }
    }
    names = await collectModules(kernel.modules, join(stage, 'lib/modules'));
    // One module a line, then its parameters (init.sh passes them to insmod).
    writeFileSync(join(stage, 'etc/modules'), `${names.map((n) => (MODULE_PARAMS[n] ? `${n} ${MODULE_PARAMS[n]}` : n)).join('\n')}\n`);
    copyFileSync(INIT, join(stage, 'init'));
    chmodSync(join(stage, 'init'), 0o755);
    await run('sh', ['-c', 'find . | cpio -o -H newc -R 0:0 --quiet | gzip -1 > "$1"', 'sh', tmp], { cwd: stage });
    // Drop initramfs images of older kernels or older init scripts.
    for (const f of readdirSync(cacheRoot)) if (/^initramfs-.*\.cpio\.gz$/.test(f)) rmSync(join(cacheRoot, f));
    renameSync(tmp, path);
  } finally {
    dropTemp(stage);
    dropTemp(tmp);
  }
  log(`initramfs built in ${secs(t0)}s: ${names.join(' ')}`);
  return path;
}
