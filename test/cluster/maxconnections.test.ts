import assert from 'node:assert/strict';
import net from 'node:net';
import { after, before, describe, it } from 'node:test';
import type { Registry } from '../helpers/registry.js';
import { startWorkers, until, workersYaml } from './helpers.js';

/**
 * berth.http.maxconnections with workers: it counts per worker (docs/operations.md, "Client
 * limits"), and past it a new connection is closed at once. Node's cluster sent such a connection
 * from one full worker to the other and back until one had room, the primary busy all the while
 * and the client left waiting.
 */
let registry: Registry;

before(async () => {
  registry = await startWorkers(2, { yaml: workersYaml(['berth:', '  http:', '    maxconnections: 2']) });
});
after(async () => {
  await registry?.stop();
});

/** A connection, and what the server sent on it (a request is sent when `ask`). */
async function connection(ask: boolean): Promise<{ socket: net.Socket; received: () => string; closed: () => boolean }> {
  const u = new URL(registry.url);
  const socket = net.connect(Number(u.port), u.hostname);
  socket.on('error', () => undefined);
  let received = '';
  let closed = false;
  socket.on('data', (c: Buffer) => (received += c.toString('latin1')));
  socket.once('close', () => (closed = true));
  await new Promise<void>((resolve) => socket.once('connect', () => resolve()));
  if (ask) socket.write('GET /v2/ HTTP/1.1\r\nHost: x\r\n\r\n');
  return { socket, received: () => received, closed: () => closed };
}

describe('berth serve with two workers and berth.http.maxconnections: 2', () => {
  it('serves up to two connections per worker and closes the next at once; one more is served once one has gone', async () => {
    const held: Array<Awaited<ReturnType<typeof connection>>> = [];
    let refused: Awaited<ReturnType<typeof connection>> | undefined;
    try {
      // One at a time until one is refused (the harness may still hold a connection of its own).
      for (let i = 0; i < 8 && !refused; i++) {
        const c = await connection(true);
        await until('an answer or a close', () => c.closed() || /^HTTP\/1\.1 /.test(c.received()));
        if (/^HTTP\/1\.1 200/.test(c.received())) held.push(c);
        else refused = c;
      }
      assert.ok(refused, 'a connection past the limit is closed');
      assert.equal(refused.received(), '', 'closed before any answer');
      assert.ok(held.length >= 2 && held.length <= 4, `${held.length} connections served`);
      held.shift()!.socket.destroy();
      // The closing worker reports it within 10 ms; a connection dealt before that report may land
      // on the full worker and be closed, and the client tries again, as a client would.
      await until('a new connection to be served', async () => {
        const next = await connection(true);
        await until('an answer or a close', () => next.closed() || /^HTTP\/1\.1 /.test(next.received()));
        const served = /^HTTP\/1\.1 200/.test(next.received());
        next.socket.destroy();
        return served;
      });
    } finally {
      for (const c of held) c.socket.destroy();
      refused?.socket.destroy();
    }
  });
});
