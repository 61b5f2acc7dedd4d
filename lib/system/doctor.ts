/**
 * `dmabuf doctor`: what this machine and this user can do with dma-bufs, found by doing it (open
 * the devices, allocate a page, map it, try each ioctl), never by guessing from the kernel version,
 * and for each problem the fix. Facts relied on (drivers/dma-buf/dma-heap.c, udmabuf.c, dma-buf.c,
 * sync_file.c; systemd's 50-udev-default.rules):
 * - /dev/dma_heap/* is created 0600 root; systemd tags only /dev/udmabuf `uaccess` (heap memory is
 *   not charged to cgroups), so heaps need a udev rule; boards ship `GROUP="video", MODE="0660"`.
 * - udmabuf's limits are module parameters: /sys/module/udmabuf/parameters/{size_limit_mb,list_limit};
 *   size_limit_mb is 64 by default up to Linux 7.2 and INT_MAX (no limit) from 7.3.
 * - An ioctl the kernel does not know answers ENOTTY; one it knows answers EINVAL to invalid
 *   arguments: EXPORT/IMPORT_SYNC_FILE (6.0) refuse flags 0, SYNC_IOC_SET_DEADLINE (6.8) a
 *   non-zero pad, before doing anything.
 */
import { existsSync, readFileSync, statSync } from 'node:fs';
import { arch, release } from 'node:os';
import { backendInfo, type BackendInfo } from '../backend/select.js';
import type { BufferHandle } from '../backend/backend.js';
import { getDefaultEmulatedBackend } from '../backend/emulated/index.js';
import { moduleParameter, udmabufSizeLimitMb } from '../backend/kernel/module-params.js';
import { getKernelBackend, HEAP_DIR, heapNames, UDMABUF_DEVICE } from '../backend/kernel/index.js';
import { heapKind, type HeapKind } from '../common/heap-kind.js';
import { loadAddon, SOURCE_BUILD_HINT } from '../backend/kernel/addon.js';
import { probeCapabilities, type Probes } from '../backend/kernel/capabilities.js';
import { openVgemCard } from '../testing/vgem.js';
import { openCaptureNode } from '../backend/kernel/v4l2.js';
import { groupName, userName } from './accounts.js';
import { probeHeap } from '../heap-probe.js';

/** A device node's permissions as `ls -l` would show them. */
export interface DeviceAccess {
  readonly path: string;
  /** Octal, e.g. '0600'. */
  readonly mode: string;
  readonly owner: string;
  readonly group: string;
}

export interface HeapReport extends DeviceAccess {
  readonly name: string;
  readonly kind: HeapKind;
  /** This process could open it (and so allocate from it). */
  readonly accessible: boolean;
  /** A page of it could be allocated, CPU-mapped and bracketed; null when it could not be tried. */
  readonly cpuMappable: boolean | null;
}

export interface UdmabufReport {
  readonly present: boolean;
  readonly device: DeviceAccess | null;
  /** A one-page udmabuf could be created and bracketed. */
  readonly usable: boolean;
  /**
   * Module parameters: the largest buffer in MiB (size_limit_mb: 64 by default up to Linux 7.2;
   * null where there is no limit, INT_MAX, the default from 7.3), and the most segments in one
   * CREATE_LIST. Both null where udmabuf is absent.
   */
  readonly sizeLimitMb: number | null;
  readonly listLimit: number | null;
}

/** Each capability, tried on a real dma-buf (true/false), or null when there was none to try it on. */

export type { Probes };

export interface Finding {
  /** 'problem': something the kernel backend or a feature lacks here; 'note': worth knowing. */
  readonly level: 'problem' | 'note';
  readonly what: string;
  /** The fix: a command, a udev rule, a module to load (every problem has one). */
  readonly fix?: string;
}

export interface DoctorReport {
  readonly kernel: { readonly release: string; readonly arch: string; readonly pageSize: number | null };
  readonly user: { readonly uid: number; readonly name: string; readonly groups: readonly string[] };
  readonly backend: BackendInfo;
  /** `list`: the kernel's heaps; `emulated`: the heaps DmaHeap offers instead where the emulated backend serves. */
  readonly heaps: { readonly directory: string; readonly present: boolean; readonly list: readonly HeapReport[]; readonly emulated: readonly string[] };
  readonly udmabuf: UdmabufReport;
  readonly probes: Probes;
  readonly vgem: { readonly present: boolean; readonly path: string | null };
  /** The first vivid capture node (dmabuf/testing's VividCamera), found by its QUERYCAP driver name. */
  readonly vivid: { readonly present: boolean; readonly path: string | null };
  readonly findings: readonly Finding[];
  /** The kernel backend can allocate and CPU-map real dma-bufs here (whatever DMABUF_BACKEND says): `dmabuf doctor` exits 0. */
  readonly usable: boolean;
}

function deviceAccess(path: string): DeviceAccess | null {
  try {
    const st = statSync(path);
    return { path, mode: `0${(st.mode & 0o7777).toString(8)}`, owner: userName(st.uid), group: groupName(st.gid) };
  } catch {
    return null;
  }
}

/** This kernel's modules.dep ('' where it has none): read once per doctor run. */
function readModulesDep(): string {
  try {
    return readFileSync(`/lib/modules/${release()}/modules.dep`, 'utf8');
  } catch {
    return '';
  }
}

const NO_PROBES: Probes = { on: null, sync: null, setName: null, exportSyncFile: null, importSyncFile: null, syncFileInfo: null, setDeadline: null };

/** The udev rule that gives `group` read access to heap `name` (ALLOC needs only O_RDONLY). */
export function heapUdevRule(name: string, group = 'video'): string {
  return `SUBSYSTEM=="dma_heap", KERNEL=="${name}", GROUP="${group}", MODE="0640"`;
}

function udevFix(rule: string): string {
  return (
    `add the line  ${rule}  to /etc/udev/rules.d/60-dmabuf.rules, run  sudo udevadm control --reload && sudo udevadm trigger, ` +
    'and be in that group (sudo usermod -aG video $USER, then log in again)'
  );
}

/** Joining the device's group where that group may open it already; a udev rule otherwise. */
function accessFix(device: DeviceAccess, rule: string): string {
  const groupMayRead = (parseInt(device.mode, 8) & 0o040) !== 0;
  if (groupMayRead && device.group !== 'root') return `join its group: sudo usermod -aG ${device.group} $USER, then log in again`;
  return udevFix(rule);
}

/** Examine this machine; never throws for what it finds (it reports it). */
export function doctor(): DoctorReport {
  const findings: Finding[] = [];
  const info = backendInfo();
  const loaded = loadAddon();
  const addon = loaded.ok ? loaded.addon : undefined;
  const userGroups = (process.getgroups?.() ?? []).map(groupName);
  const uid = process.getuid?.() ?? -1;
  // Whether a module can be loaded with modprobe here (its .ko is installed).
  const modulesDep = readModulesDep();

  if (!addon) {
    findings.push({ level: 'problem', what: `the native addon did not load: ${loaded.ok ? '' : loaded.reason}`, fix: SOURCE_BUILD_HINT });
  }

  // Heaps.
  const heapsPresent = existsSync(HEAP_DIR);
  const heaps: HeapReport[] = [];
  let names: string[] = [];
  try {
    names = heapNames();
  } catch (error) {
    findings.push({
      level: 'problem',
      what: `${HEAP_DIR} cannot be read: ${(error as Error).message}`,
      fix: 'run doctor as a user who may list it (or as root)',
    });
  }
  const kernel = addon ? getKernelBackend() : undefined;
  const cmaRegions = kernel?.cmaRegions() ?? [];
  for (const name of names) {
    const access = deviceAccess(`${HEAP_DIR}/${name}`) ?? { path: `${HEAP_DIR}/${name}`, mode: '?', owner: '?', group: '?' };
    const details = kernel ? probeHeap(kernel, name, cmaRegions) : undefined;
    const report: HeapReport = {
      name,
      kind: details?.kind ?? heapKind(name, cmaRegions),
      ...access,
      accessible: details?.accessible ?? false,
      cpuMappable: details?.cpuMappable ?? null,
    };
    heaps.push(report);
    if (!details) continue;
    if (!details.accessible) {
      const denied = details.problem?.startsWith('EACCES') || details.problem?.startsWith('EPERM');
      findings.push({
        level: 'problem',
        what: `heap '${name}' (${access.mode} ${access.owner}:${access.group}) cannot be opened by ${userName(uid)}: ${details.problem}`,
        fix: denied ? accessFix(access, heapUdevRule(name)) : `the kernel refused to open it (${details.problem}); use another heap or Udmabuf`,
      });
    } else if (details.cpuMappable === false) {
      findings.push({
        level: report.kind === 'protected' ? 'note' : 'problem',
        what: `heap '${name}' hands out buffers the CPU cannot map: ${details.problem}`,
        fix:
          report.kind === 'protected'
            ? 'expected for a protected heap: hand its buffers to devices only'
            : 'allocate CPU-visible buffers from another heap (DmaHeap.list({ details: true }) says which map) or with Udmabuf',
      });
    }
  }
  if (!heapsPresent) {
    findings.push({
      level: 'note',
      what: `this kernel has no dma-heaps (${HEAP_DIR} is missing)`,
      fix: modulesDep.includes('/system_heap.ko')
        ? 'sudo modprobe system_heap'
        : 'heaps need CONFIG_DMABUF_HEAPS_SYSTEM (Linux 5.6+; Debian builds it into amd64 kernels, not arm64); Udmabuf works without them',
    });
  }

  // udmabuf.
  const udmabufDevice = deviceAccess(UDMABUF_DEVICE);
  let udmabufUsable = false;
  let udmabufProblem: string | undefined;
  if (kernel && udmabufDevice) {
    try {
      const buffer = kernel.createUdmabuf(kernel.pageSize);
      buffer.close();
      udmabufUsable = true;
    } catch (error) {
      udmabufProblem = error instanceof Error ? error.message : String(error);
    }
  }
  const udmabuf: UdmabufReport = {
    present: udmabufDevice !== null,
    device: udmabufDevice,
    usable: udmabufUsable,
    sizeLimitMb: udmabufSizeLimitMb(),
    listLimit: moduleParameter('udmabuf', 'list_limit'),
  };
  if (!udmabufDevice) {
    findings.push({
      level: 'note',
      what: `this kernel has no udmabuf (${UDMABUF_DEVICE} is missing)`,
      fix: modulesDep.includes('/udmabuf.ko') ? 'sudo modprobe udmabuf' : 'udmabuf needs CONFIG_UDMABUF (Linux 4.20+)',
    });
  } else if (kernel && !udmabufUsable) {
    findings.push({
      level: 'problem',
      what: `${UDMABUF_DEVICE} (${udmabufDevice.mode} ${udmabufDevice.owner}:${udmabufDevice.group}) cannot be used by ${userName(uid)}: ${udmabufProblem}`,
      fix: accessFix(udmabufDevice, 'SUBSYSTEM=="misc", KERNEL=="udmabuf", GROUP="video", MODE="0660"'),
    });
  }
  if (udmabuf.sizeLimitMb !== null) {
    findings.push({
      level: 'note',
      what: `udmabuf buffers are limited to ${udmabuf.sizeLimitMb} MiB (size_limit_mb)`,
      fix: 'raise it with  echo 256 | sudo tee /sys/module/udmabuf/parameters/size_limit_mb  (or options udmabuf size_limit_mb=256 in /etc/modprobe.d/)',
    });
  }

  // Capabilities, on whichever real buffer this user can make.
  let probes = NO_PROBES;
  if (kernel && addon) {
    const usableHeap = heaps.find((h) => h.cpuMappable === true);
    let buffer: BufferHandle | undefined;
    let on = '';
    try {
      if (usableHeap) {
        const heap = kernel.openHeap(usableHeap.name);
        try {
          buffer = heap.allocate(kernel.pageSize);
        } finally {
          heap.close();
        }
        on = `heap ${usableHeap.name}`;
      } else if (udmabufUsable) {
        buffer = kernel.createUdmabuf(kernel.pageSize);
        on = 'udmabuf';
      }
    } catch {
      buffer = undefined;
    }
    if (buffer) {
      try {
        probes = probeCapabilities(buffer, on);
      } finally {
        buffer.close();
      }
      if (probes.exportSyncFile === false || probes.importSyncFile === false) {
        findings.push({
          level: 'note',
          what: 'this kernel cannot export or import sync files on dma-bufs (DMA_BUF_IOCTL_EXPORT/IMPORT_SYNC_FILE, Linux 6.0+): SyncFile interop with buffers is unavailable',
          fix: 'a 6.0 or later kernel',
        });
      }
      if (probes.setDeadline === false) {
        findings.push({ level: 'note', what: 'sync files here take no deadline hints (SYNC_IOC_SET_DEADLINE, Linux 6.8+): setDeadline() will fail' });
      }
    }
  }

  // vgem (a fence source for tests).
  let vgem: { present: boolean; path: string | null } = { present: false, path: null };
  if (addon) {
    try {
      const card = openVgemCard(addon);
      addon.close(card.fd);
      vgem = { present: true, path: card.path };
    } catch {
      // Absent: a note below.
    }
  }
  if (!vgem.present) {
    findings.push({
      level: 'note',
      what: 'no vgem device: dmabuf/testing’s VgemFenceSource (real fences for tests) is unavailable',
      fix: modulesDep.includes('/vgem.ko') ? 'sudo modprobe vgem' : 'vgem needs CONFIG_DRM_VGEM',
    });
  }

  // vivid (a V4L2 camera for tests): the node VividCamera.open() would take.
  let vivid: { present: boolean; path: string | null } = { present: false, path: null };
  if (addon) {
    try {
      const node = openCaptureNode('vivid');
      if (node) {
        node.device.close();
        vivid = { present: true, path: node.device.path };
      }
    } catch {
      // /dev unreadable: absent, a note below.
    }
  }
  if (!vivid.present) {
    findings.push({
      level: 'note',
      what: 'no vivid capture node: dmabuf/testing’s VividCamera (a real V4L2 driver writing into and exporting dma-bufs) is unavailable',
      fix: modulesDep.includes('/vivid.ko') ? 'sudo modprobe vivid' : 'vivid needs CONFIG_VIDEO_VIVID',
    });
  }

  const usable = addon !== undefined && (heaps.some((h) => h.cpuMappable === true) || udmabufUsable);
  if (!usable && addon && (heapsPresent || udmabufDevice)) {
    findings.unshift({
      level: 'problem',
      what: 'the kernel backend cannot serve here: no heap or udmabuf lets this user allocate and CPU-map a buffer',
      fix: 'the fixes of the heap and udmabuf problems below',
    });
  }
  if (info.backend === 'emulated') {
    findings.unshift({
      level: usable ? 'note' : 'problem',
      what: `DmaHeap and Udmabuf hand out emulated buffers here, from emulated heaps (${info.reason})`,
      ...(usable ? { fix: 'unset DMABUF_BACKEND for real dma-bufs' } : { fix: 'fine for tests; for real dma-bufs load a heap or udmabuf (see below)' }),
    });
  } else if (info.backend === 'unavailable') {
    findings.unshift({ level: 'problem', what: info.reason, fix: info.addon.origin === 'none' ? SOURCE_BUILD_HINT : 'unset DMABUF_BACKEND' });
  }

  return {
    kernel: { release: release(), arch: arch(), pageSize: addon ? addon.constants.PAGE_SIZE : null },
    user: { uid, name: userName(uid), groups: userGroups },
    backend: info,
    heaps: { directory: HEAP_DIR, present: heapsPresent, list: heaps, emulated: info.backend === 'emulated' ? getDefaultEmulatedBackend().listHeaps() : [] },
    udmabuf,
    probes,
    vgem,
    vivid,
    findings,
    usable,
  };
}
