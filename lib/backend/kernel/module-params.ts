/**
 * Kernel module parameters, from /sys/module/<module>/parameters/<name>: udmabuf's size_limit_mb
 * (the most MiB one buffer may hold: 64 by default up to Linux 7.2, INT_MAX, i.e. no limit, from
 * 7.3) and list_limit (default 1024: the most segments in one UDMABUF_CREATE_LIST). Both can change
 * at run time (0644), so they are read when needed.
 */
import { readFileSync } from 'node:fs';

export const UDMABUF_PARAMETERS = '/sys/module/udmabuf/parameters';

/** The parameter's value, or null where the module is not loaded or built in without sysfs. */
export function moduleParameter(module: string, name: string): number | null {
  try {
    const value = Number(readFileSync(`/sys/module/${module}/parameters/${name}`, 'utf8').trim());
    return Number.isFinite(value) ? value : null;
  } catch {
    return null;
  }
}

/** size_limit_mb's value for "no limit": INT_MAX, udmabuf's default from Linux 7.3. */
export const UDMABUF_NO_SIZE_LIMIT = 2 ** 31 - 1;

/**
 * The most MiB one udmabuf may hold here (size_limit_mb), or null where udmabuf sets no limit
 * (INT_MAX, the default from Linux 7.3) or the parameter cannot be read.
 */
export function udmabufSizeLimitMb(): number | null {
  const mb = moduleParameter('udmabuf', 'size_limit_mb');
  return mb === null || mb >= UDMABUF_NO_SIZE_LIMIT ? null : mb;
}
