// gst-launch-1.0 from the project's cached GStreamer 1.26 root (npm run gst:prepare; root.mjs),
// run by scripts/gst/bin/gst-launch-1.0 for examples/gstreamer.mjs where GStreamer is not
// installed: the VM puts that folder on its PATH; on the host,
// `PATH=$PWD/scripts/gst/bin:$PATH node examples/gstreamer.mjs`.
import { spawn } from 'node:child_process';
import { gstCommand, gstRootPath } from './root.mjs';

const root = gstRootPath();
if (!root) {
  process.stderr.write('gst-launch-1.0: no GStreamer root here (x86_64 only): run `npm run gst:prepare` as root once, or install GStreamer 1.24+\n');
  process.exit(127);
}
const c = gstCommand(root, 'gst-launch-1.0', process.argv.slice(2));
const child = spawn(c.file, c.args, { env: c.env, stdio: 'inherit' });
for (const signal of ['SIGINT', 'SIGTERM']) process.on(signal, () => child.kill(signal));
child.on('exit', (code, signal) => process.exit(code ?? (signal ? 128 : 1)));
