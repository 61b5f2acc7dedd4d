/**
 * Checked mode's switch: DMABUF_CHECK=1 makes every new kernel buffer check its brackets (a
 * snapshot at START compared at END; see bracket-check.ts); a buffer's own `checked` option wins.
 */
import { DmaBufError, invalidType } from './errors.js';

/**
 * DMABUF_CHECK's value, read from the environment once (at the first buffer a process makes or
 * receives) rather than at every one: process.env is a call into Node's environment store, and P7
 * measured that read as an eighth of an allocation. rereadCheckedMode() reads it again.
 */
let environment: { value: string | undefined } | undefined;

function parse(value: string | undefined): boolean {
  if (value === undefined || value === '' || value === '0') return false;
  if (value === '1') return true;
  throw new DmaBufError('EINVAL', `DMABUF_CHECK must be '1' (checked mode) or '0', got '${value}'`, { argument: 'DMABUF_CHECK' });
}

/** DMABUF_CHECK as read once per process: unset, '' or '0' off; '1' on; anything else is an error naming it. */
export function checkedByDefault(): boolean {
  environment ??= { value: process.env['DMABUF_CHECK'] };
  return parse(environment.value);
}

/**
 * Read DMABUF_CHECK again (a program that changes it while running) and return what it now says;
 * buffers made or received from then on follow it. EINVAL for a value other than '1', '0' or ''
 * (every buffer made without the `checked` option is refused the same way until it is fixed).
 */
export function rereadCheckedMode(): boolean {
  environment = { value: process.env['DMABUF_CHECK'] };
  return parse(environment.value);
}

/** The `checked` option of a buffer-making call, or DMABUF_CHECK where it is not given. */
export function checkedOption(syscall: string, opts: Record<string, unknown>): boolean {
  const checked = opts['checked'];
  if (checked === undefined) return checkedByDefault();
  if (typeof checked !== 'boolean') throw invalidType(syscall, 'checked', 'a boolean', checked);
  return checked;
}
