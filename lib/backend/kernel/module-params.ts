/**
 * Kernel module parameters, from /sys/module/<module>/parameters/<name>: udmabuf's size_limit_mb
 * (default 64: the most MiB one buffer may hold) and list_limit (default 1024: the most segments in
 * one UDMABUF_CREATE_LIST). Both can change at run time (0644), so they are read when needed.
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
