/**
 * Checked mode's switch: DMABUF_CHECK=1 makes every new kernel buffer check its brackets (a
 * snapshot at START compared at END; see bracket-check.ts); a buffer's own `checked` option wins.
 */
import { DmaBufError, invalidType } from './errors.js';

/** DMABUF_CHECK as read now: unset, '' or '0' off; '1' on; anything else is an error naming it. */
export function checkedByDefault(): boolean {
  const value = process.env['DMABUF_CHECK'];
  if (value === undefined || value === '' || value === '0') return false;
  if (value === '1') return true;
  throw new DmaBufError('EINVAL', `DMABUF_CHECK must be '1' (checked mode) or '0', got '${value}'`, { argument: 'DMABUF_CHECK' });
}

/** The `checked` option of a buffer-making call, or DMABUF_CHECK where it is not given. */
export function checkedOption(syscall: string, opts: Record<string, unknown>): boolean {
  const checked = opts['checked'];
  if (checked === undefined) return checkedByDefault();
  if (typeof checked !== 'boolean') throw invalidType(syscall, 'checked', 'a boolean', checked);
  return checked;
}
