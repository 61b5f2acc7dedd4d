// The VM profiles: which Debian kernel boots (6.12; x86_64-next: the newest amd64 one Debian
// packages), under which qemu, with which userland, and what that kernel provides. What a profile
// provides is declared here, not probed in the guest: the tests read it (DMABUF_VM_PROVIDES) to
// leave out, by declaration, what a kernel lacks, and a device that a profile declares but the
// guest lacks fails the run (docs/TESTING.md, "The real-kernel suite": Debian's arm64 kernels have udmabuf
// and vgem but no dma-heaps, so the heap-less case is tested there instead).

/**
 * Everything the suite can use: dma-heaps (/dev/dma_heap/system), /dev/udmabuf, vgem (/dev/dri),
 * vivid (a V4L2 capture node, /dev/video*: a real videobuf2 driver that imports and exports
 * dma-bufs), and python3 (the independent FdChannel peer: the x86 guest runs the host's userland,
 * which has it), virtio-gpu (QEMU's virtio-gpu-pci: a KMS screen whose picture the runner takes
 * with screendump, screen.mjs; on the x86_64 profiles).
 */
export const FEATURES = ['heaps', 'udmabuf', 'vgem', 'vivid', 'virtio-gpu', 'python3'];

/** What the two arm64 profiles share: only the kernel flavour and its page size differ. */
const ARM64 = {
  aptArch: 'arm64',
  // The unsigned package's vmlinuz is a plain arm64 Image that qemu's -kernel takes as is.
  unsigned: true,
  qemu: 'qemu-system-aarch64',
  qemuPackage: 'qemu-system-arm',
  // The Raspberry Pi 5's core (ARMv8.2: LSE atomics, 4K/16K/64K granules; no pointer
  // authentication, BTI, MTE or SVE). With '-cpu max' (every feature qemu emulates) node died in
  // V8 itself now and then: SIGSEGV, or "Check failed: CodeKindCanDeoptimize" in the deoptimizer,
  // once per 30-odd test processes; a real core's feature set is also what users run.
  machine: ['-M', 'virt', '-cpu', 'cortex-a76'],
  // One TCG thread. With a thread per vCPU the suite is faster, but the only crash-free runs seen
  // so far (see isolateFiles) used one.
  accel: 'tcg,thread=single',
  // Tests get this many times the x86 timeouts (vitest.config.ts): the emulated arm64 CPU is
  // about 3× slower than the x86 guest here.
  slowdown: 5,
  // A fresh test process per file (vitest isolate). With one process for the whole suite, its
  // node died of SIGSEGV in 4 of 5 runs here (either TCG threading mode), each time after many
  // test files and at a different point; one file per process never did (see the closing note
  // of the arm64 work). A crash would still fail its file, and the run.
  isolateFiles: true,
  // The whole suite takes 25–35 minutes here (x86: 15); the run's default time limit follows.
  timeoutSeconds: 3600,
  console: 'ttyAMA0',
  userland: 'arm64',
  provides: ['udmabuf', 'vgem', 'vivid'],
  // What differs on arm64 runs there (`--test` with no files): the kernel and native suites, the
  // installed package and its arm64 prebuild, the loader, the fd limit. The conformance, channel
  // and CLI suites are the same TypeScript on the same kernel interfaces, and run in the x86_64 VM.
  suite: ['test/kernel', 'test/native', 'test/package/installed.test.ts', 'test/host/loader.test.ts', 'test/host/fd-limit.test.ts'],
};

/** What the two x86_64 profiles share: the host's qemu, machine and userland; only the kernel differs. */
const X86_64 = {
  aptArch: 'amd64',
  // The signed package ships a bzImage qemu boots directly.
  unsigned: false,
  qemu: 'qemu-system-x86_64',
  qemuPackage: 'qemu-system-x86',
  machine: ['-cpu', 'max'],
  // A second real exporter, and a screen: QEMU's virtio-gpu (module virtio-gpu, initramfs.mjs). On
  // 6.12 it exports dumb buffers as dma-bufs; the runner photographs its screen (screen.mjs).
  devices: ['-device', 'virtio-gpu-pci,id=screen'],
  // The device whose picture screendump takes: x86's default VGA is console 0 (720×400 text mode).
  screen: 'screen',
  // One TCG thread for both vCPUs: with a thread each, about one boot in 40 died of "Oops: int3"
  // in sched_clock_cpu, a race between TCG and the kernel patching live code; one thread cannot
  // race and measured no slower on a 2-core host.
  accel: 'tcg,thread=single',
  console: 'ttyS0',
  pageSize: 4096,
  userland: 'host',
};

export const PROFILES = {
  x86_64: {
    ...X86_64,
    description: "Debian's 6.12 amd64 kernel, 4K pages; the host's own userland and node",
    meta: 'linux-image-6.12-amd64',
    // The whole suite takes about 15 minutes here (F4 and the 10,000-message channel test alone
    // take 2 minutes each); the run's default time limit follows.
    timeoutSeconds: 2700,
    // gst: the GStreamer root (amd64) of the unixfd tests, from the host's cache (scripts/gst/root.mjs).
    provides: ['heaps', 'udmabuf', 'vgem', 'vivid', 'virtio-gpu', 'python3', 'gst'],
  },
  'x86_64-next': {
    ...X86_64,
    description: "Debian's newest amd64 kernel (trixie-backports' linux-image-amd64: 7.3 now), 4K pages; the host's own userland and node",
    // Resolved and downloaded with a private apt (kernel.mjs): the host is bookworm and its apt
    // sources stay as they are. trixie's archive keys are in bookworm's debian-archive-keyring
    // from 2023.3+deb12u2 on; signed-by names that keyring, so /etc/apt/trusted.gpg.d plays no part.
    apt: { sources: 'deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] http://deb.debian.org/debian trixie-backports main' },
    meta: 'linux-image-amd64',
    timeoutSeconds: 2700,
    // gst: the GStreamer root (amd64) of the unixfd tests, from the host's cache (scripts/gst/root.mjs).
    provides: ['heaps', 'udmabuf', 'vgem', 'vivid', 'virtio-gpu', 'python3', 'gst'],
  },
  arm64: {
    ...ARM64,
    description: "Debian's 6.12 arm64 kernel, 4K pages; an arm64 userland and Node.js from Debian and npm packages",
    meta: 'linux-image-6.12-arm64',
    pageSize: 4096,
  },
  'arm64-16k': {
    ...ARM64,
    description: "Debian's 6.12 arm64 kernel with 16K pages (as on the Raspberry Pi 5); arm64 userland",
    meta: 'linux-image-6.12-arm64-16k',
    pageSize: 16384,
  },
};

export function getProfile(name) {
  const profile = PROFILES[name];
  if (!profile) throw new Error(`unknown VM profile '${name}' (profiles: ${Object.keys(PROFILES).join(', ')})`);
  return { name, ...profile };
}
