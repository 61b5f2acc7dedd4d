/**
 * How many times a test repeats one property. The full count (what a benchmark or a manual soak
 * wants) runs everywhere but CI, and in CI with DMABUF_SOAK=1; CI (CI=true, forwarded into the VMs)
 * runs `quick`, enough to prove the property (a leak per round shows after a few hundred), so that
 * the VM suites fit CI's time. The count a test used is in its title.
 */
export function rounds(full: number, quick: number): number {
  if (process.env['DMABUF_SOAK'] === '1') return full;
  return process.env['CI'] === 'true' || process.env['CI'] === '1' ? quick : full;
}
