/**
 * /proc/self/fdinfo/<fd>: the dma-buf core prints `size:`, `count:`, `exp_name:` (the exporter:
 * a heap name, 'udmabuf', a driver) and `name:` (set by DMA_BUF_SET_NAME); every fd has `flags:`
 * (octal open flags). Read with plain fs: no ioctl reports these.
 */
import { readFileSync } from 'node:fs';
import { fsError } from '../../common/errors.js';

/** The fields of fd's fdinfo; reading it takes an fd of its own, so at RLIMIT_NOFILE it is EMFILE. */
export function readFdinfo(fd: number): Map<string, string> {
  const path = `/proc/self/fdinfo/${fd}`;
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    throw fsError(error, 'open', path);
  }
  return parseFdinfo(text);
}

/** fdinfo's `key:\tvalue` lines, of this process's fd or another's (`dmabuf ls`). */
export function parseFdinfo(text: string): Map<string, string> {
  const fields = new Map<string, string>();
  for (const line of text.split('\n')) {
    const colon = line.indexOf(':');
    // The kernel prints "key:\tvalue": strip exactly that tab, since a name may begin or end with spaces.
    if (colon > 0) fields.set(line.slice(0, colon), line.slice(colon + 1).replace(/^\t/, ''));
  }
  return fields;
}
