// A user's CommonJS module (compiled to require('dmabuf'); require(esm) needs Node.js 20.19+ or
// 22.12+, and TypeScript 5.8+ to type a require of an ES module), under the same strict settings.
import dmabuf = require('dmabuf');

const { backendInfo, emulation, region } = dmabuf;
const buf = emulation.create({ coherency: 'bounce' }).heap().allocate(4096, { name: 'cjs' });
buf.withCpuAccess('write', region.linear({ offset: 0, length: 4 }), (a) => a.bytes.set([1, 2, 3, 4]));
const read = buf.withCpuAccess('read', region.linear({ offset: 0, length: 4 }), (a) => [...a.bytes]);
buf.close();
process.stdout.write(`${JSON.stringify({ node: process.versions.node, origin: backendInfo().addon.origin, read })}\n`);
