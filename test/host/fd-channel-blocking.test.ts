// Channel ends behave as plain blocking sockets for any other process: O_NONBLOCK belongs to the
// open file description (fcntl(2)), which every process holding the end shares, so the addon never
// sets it on an end (it sends and receives with MSG_DONTWAIT per call, and waits through a private
// epoll instance). A peer with an ordinary blocking loop (Python's standard library) runs a long
// exchange through an end inherited on fd 3.
import { spawn, spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { FdChannel, Memfd } from '../../lib/index.js';
import { addon } from '../helpers/addon.js';
import { addonLoads, NEEDS_PYTHON, provides, requireKernel } from '../helpers/env.js';
import { fixturePath } from '../helpers/fixtures.js';
import { fdSnapshot, fdsMadeSince, statusFlags } from '../helpers/proc.js';

const ROUNDS = Number(process.env['DMABUF_BLOCKING_PEER_ROUNDS'] ?? 300);
// In the VMs, what the profile declares (a declared python3 that is missing fails); elsewhere, what is here.
const python = requireKernel ? provides.python3 : spawnSync('python3', ['-c', 'import socket; socket.send_fds'], { stdio: 'ignore' }).status === 0;

describe.runIf(addonLoads)('FdChannel ends stay blocking for other processes (needs the native addon: Linux)', () => {
  const nonBlocking = (fd: number) => (statusFlags(fd) & addon().constants.O_NONBLOCK) !== 0;

  it('pair(), listen/accept/connect ends are blocking, also while a receive waits and after traffic', async () => {
    const [a, b] = FdChannel.pair();
    const name = `\0dmabuf-blocking-${process.pid}-${Math.random().toString(36).slice(2)}`;
    const server = FdChannel.listen(name);
    const accepted = server.accept({ timeoutMs: 5000 });
    const client = await FdChannel.connect(name);
    const peer = await accepted;
    for (const end of [a, b, client, peer]) expect(nonBlocking(end.fd), `fd ${end.fd}`).toBe(false);
    const pending = b.receive({ timeoutMs: 5000 });
    const waitingPeer = peer.receive({ timeoutMs: 5000 });
    expect(nonBlocking(b.fd)).toBe(false);
    expect(nonBlocking(peer.fd)).toBe(false);
    await a.send('x');
    await client.send('y');
    expect((await pending).text()).toBe('x');
    expect((await waitingPeer).text()).toBe('y');
    for (const end of [a, b, client, peer]) expect(nonBlocking(end.fd)).toBe(false);
    for (const c of [a, b, client, peer, server]) c.close();
  });

  it.runIf(python)(`a Python peer with a blocking receive loop on fd 3: ${ROUNDS} messages with fds each way ${NEEDS_PYTHON}`, async () => {
    const fds = fdSnapshot();
    const [ours, theirs] = FdChannel.pair();
    const child = spawn('python3', [fixturePath('python_blocking_peer.py')], { stdio: ['ignore', 'pipe', 'inherit', theirs.fd] });
    theirs.close();
    let out = '';
    child.stdout?.on('data', (d: Buffer) => (out += d.toString()));
    const exited = new Promise<number | null>((resolve) => child.on('exit', resolve));
    for (let i = 0; i < ROUNDS; i++) {
      const memfd = Memfd.create(4096, { name: `round-${i}` });
      await ours.send(`message ${i}`, [memfd]);
      memfd.close();
      const reply = await ours.receive({ timeoutMs: 20_000 });
      expect(reply.text()).toBe(`echo:message ${i}`);
      expect(reply.fds).toHaveLength(1);
      expect(reply.fds[0]?.kind).toMatch(new RegExp(`memfd:round-${i} `));
      for (const h of reply.handles) h.close();
    }
    ours.close();
    expect(await exited).toBe(0);
    expect(out.trim()).toBe(String(ROUNDS));
    expect(fdsMadeSince(fds)).toEqual([]);
  });
});
