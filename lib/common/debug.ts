/**
 * NODE_DEBUG=dmabuf: the package's decisions (backend choice, addon load, heap opens, allocation
 * failures) on stderr. util.debuglog decides once whether the section is on; when it is off each
 * call is an empty function call, and callers guard any costly formatting with `debug.enabled`.
 */
import { debuglog } from 'node:util';

export const debug = debuglog('dmabuf');
