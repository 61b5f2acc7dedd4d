// The guest's window on its own screen: a test in the VM asks the runner for a picture of what the
// virtio-gpu scanout shows, and the runner takes it with QEMU's `screendump` over QMP. The request
// channel is a folder on the repo share, which both sides see at the same path
// (DMABUF_VM_SCREEN_DIR): the guest writes `<id>.request`; the runner answers with `<id>.ppm`
// (QEMU's PPM, P6) and then `<id>.done`, or `<id>.error` holding the reason. A file on a share
// needs no guest driver beyond the 9p the run already uses (test/helpers/screendump.ts is the
// guest's side).
import { mkdirSync, readdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { createConnection } from 'node:net';
import { join } from 'node:path';
import { log } from './proc.mjs';

const POLL_MS = 100;

/** A QMP client on `socket`: capabilities negotiated once, then one command at a time. */
function qmpClient(socket) {
  let conn;
  let buffered = '';
  let waiting; // { resolve, reject } of the command in flight, or of the greeting
  const onLine = (line) => {
    let msg;
    try {
      msg = JSON.parse(line);
    } catch {
      return;
    }
    if (msg.event || !waiting) return; // asynchronous events: not an answer
    const { resolve, reject } = waiting;
    waiting = undefined;
    if (msg.error) reject(new Error(`${msg.error.class}: ${msg.error.desc}`));
    else resolve(msg);
  };
  const connect = () =>
    new Promise((resolve, reject) => {
      conn = createConnection(socket);
      conn.setEncoding('utf8');
      conn.on('data', (chunk) => {
        buffered += chunk;
        for (let nl = buffered.indexOf('\n'); nl >= 0; nl = buffered.indexOf('\n')) {
          onLine(buffered.slice(0, nl));
          buffered = buffered.slice(nl + 1);
        }
      });
      conn.on('error', (e) => {
        const w = waiting;
        waiting = undefined;
        conn = undefined;
        (w?.reject ?? reject)(e);
      });
      waiting = { resolve, reject }; // the greeting ({"QMP": …}) comes first
    });
  const execute = (command, args) =>
    new Promise((resolve, reject) => {
      waiting = { resolve, reject };
      conn.write(`${JSON.stringify({ execute: command, ...(args ? { arguments: args } : {}) })}\n`);
    });
  return {
    async run(command, args) {
      if (!conn) {
        await connect();
        await execute('qmp_capabilities');
      }
      return execute(command, args);
    },
    close() {
      conn?.destroy();
    },
  };
}

/** Serve the guest's screendump requests in `dir` through QMP on `socket` until stop(): pictures of the display `device` (a qdev id). */
export function serveScreendumps({ dir, socket, device }) {
  mkdirSync(dir, { recursive: true });
  const qmp = qmpClient(socket);
  let busy = false;
  const handle = async (id) => {
    const ppm = join(dir, `${id}.ppm`);
    try {
      await qmp.run('screendump', { filename: ppm, device });
      // The answer appears only once the picture is complete: rename is atomic on the share.
      writeFileSync(join(dir, `${id}.done.tmp`), '');
      renameSync(join(dir, `${id}.done.tmp`), join(dir, `${id}.done`));
    } catch (error) {
      log(`screendump ${id} failed: ${error.message}`);
      writeFileSync(join(dir, `${id}.error.tmp`), String(error.message));
      renameSync(join(dir, `${id}.error.tmp`), join(dir, `${id}.error`));
    }
  };
  const timer = setInterval(async () => {
    if (busy) return;
    busy = true;
    try {
      mkdirSync(dir, { recursive: true });
      for (const name of readdirSync(dir)) {
        const id = /^([\w-]+)\.request$/.exec(name)?.[1];
        if (!id) continue;
        rmSync(join(dir, name), { force: true });
        await handle(id);
      }
    } catch (error) {
      log(`screendump requests: ${error.message}`);
    } finally {
      busy = false;
    }
  }, POLL_MS);
  timer.unref();
  return {
    stop() {
      clearInterval(timer);
      qmp.close();
    },
  };
}
