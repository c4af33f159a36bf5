/**
 * The socket reads of upload bodies (src/api/body/socket-reads.ts) against storage slower than
 * the connection: the body's blocks queue up, reading pauses and resumes, and a body that ends
 * while reading is paused still hands the connection back to the parser for the next request;
 * with more bodies at once than the pool's block limit, the rest wait in line for a block; a body
 * with a large block or more to come is read into large blocks.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { armBody, requestBody, socketReadCount } from '../../src/api/body/socket-reads.js';
import { BLOCK_LIMIT, BLOCK_SIZE, LARGE_BLOCK_SIZE, blockCounts } from '../../src/storage/upload-body.js';
import { random } from '../helpers/content.js';

const sha = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');

for (const waits of [true, false]) test(`bodies of whole blocks into slow storage, three on one kept-alive connection, the handler ${waits ? 'waiting before it reads' : 'reading at once (as on in-memory storage)'}: each arrives whole, the next request is read`, async () => {
  let stored: Buffer[] = [];
  let hashed = createHash('sha256');
  let mostQueued = 0;
  let queued = 0;
  const server = http.createServer((req, res) => {
    armBody(req);
    void (async () => {
      stored = [];
      hashed = createHash('sha256');
      // A handler's own awaits before it reads the body; or only promises already settled (as on
      // in-memory storage), so that it starts reading before Node's parser is done with the read
      // that brought the headers.
      if (waits) await sleep(5);
      else for (let i = 0; i < 3; i++) await Promise.resolve();
      const n = await requestBody(req).deliver({
        data: (piece) => hashed.update(piece),
        block: async (block) => {
          mostQueued = Math.max(mostQueued, ++queued);
          stored.push(Buffer.from(block));
          await sleep(15); // storage slower than the connection
          queued--;
        },
      });
      res.end(`${n} ${hashed.digest('hex')} ${sha(Buffer.concat(stored))}`);
    })();
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  const before = socketReadCount.bodies;
  try {
    const port = (server.address() as AddressInfo).port;
    for (let i = 0; i < 3; i++) {
      const body = random(8 * BLOCK_SIZE); // ends on a block boundary: the last read fills a block and may pause reading
      const answer = await new Promise<string>((resolve, reject) => {
        const req = http.request({ port, host: '127.0.0.1', method: 'PATCH', path: '/v2/r/blobs/uploads/x', agent, headers: { 'Content-Length': body.length } }, (res) => {
          let s = '';
          res.on('data', (d) => (s += d));
          res.on('end', () => resolve(s));
        });
        req.on('error', reject);
        req.setTimeout(10_000, () => req.destroy(new Error('no answer within 10 s')));
        req.end(body);
      });
      assert.equal(answer, `${body.length} ${sha(body)} ${sha(body)}`, `body ${i + 1}: length, what was hashed, what was stored`);
    }
    assert.equal(socketReadCount.bodies - before, 3, 'all three read from the socket');
    assert.ok(mostQueued >= 1, 'blocks were stored');
  } finally {
    agent.destroy();
    server.closeAllConnections();
    await new Promise((r) => server.close(r));
  }
});

test(`${BLOCK_LIMIT + 24} bodies at once: past ${BLOCK_LIMIT} blocks out the rest wait in line for one, their first read's bytes kept for them, and each arrives whole`, async () => {
  const n = BLOCK_LIMIT + 24;
  let mostOut = 0;
  let mostWaiting = 0;
  const sample = (): void => {
    const counts = blockCounts();
    mostOut = Math.max(mostOut, counts.out);
    mostWaiting = Math.max(mostWaiting, counts.waiting);
  };
  const overdueBefore = blockCounts().overdue;
  // Storage holds every block until all bodies have arrived and had a moment to read, so that all want blocks at once.
  let arrived = 0;
  let open!: () => void;
  const gate = new Promise<void>((resolve) => (open = resolve));
  const server = http.createServer((req, res) => {
    armBody(req);
    void (async () => {
      const hashed = createHash('sha256');
      const stored: Buffer[] = [];
      if (++arrived === n) setTimeout(() => (sample(), open()), 100);
      const length = await requestBody(req).deliver({
        data: (piece) => {
          sample();
          hashed.update(piece);
        },
        block: async (block) => {
          stored.push(Buffer.from(block));
          await gate;
          await sleep(2);
        },
      });
      res.end(`${length} ${hashed.digest('hex')} ${sha(Buffer.concat(stored))}`);
    })();
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  try {
    const port = (server.address() as AddressInfo).port;
    const body = random(2 * BLOCK_SIZE + 1000);
    const answers = await Promise.all(
      Array.from({ length: n }, () =>
        new Promise<string>((resolve, reject) => {
          const req = http.request({ port, host: '127.0.0.1', method: 'PUT', path: '/v2/r/blobs/uploads/x', agent: false, headers: { 'Content-Length': body.length } }, (res) => {
            let s = '';
            res.on('data', (d) => (s += d));
            res.on('end', () => resolve(s));
          });
          req.on('error', reject);
          req.setTimeout(20_000, () => req.destroy(new Error('no answer within 20 s')));
          req.end(body);
        }),
      ),
    );
    for (const answer of answers) assert.equal(answer, `${body.length} ${sha(body)} ${sha(body)}`);
    const overdue = blockCounts().overdue - overdueBefore;
    assert.ok(mostWaiting > 0, 'bodies waited in line for a block');
    assert.ok(mostOut <= BLOCK_LIMIT + overdue, `${mostOut} blocks out at most, ${overdue} bodies let through past the limit after waiting`);
    assert.equal(blockCounts().out, 0, 'every block back in the pool');
    assert.equal(blockCounts().waiting, 0, 'nobody left in line');
  } finally {
    server.closeAllConnections();
    await new Promise((r) => server.close(r));
  }
});

test('a body with a large block or more to come is read from the socket into large blocks: at once with Content-Length, once that much has come when chunked', async () => {
  const server = http.createServer((req, res) => {
    armBody(req);
    void (async () => {
      const hashed = createHash('sha256');
      const sizes: number[] = [];
      const n = await requestBody(req).deliver({ data: (piece) => hashed.update(piece), block: async (block) => void sizes.push(block.length) });
      res.end(`${n} ${hashed.digest('hex')} ${sizes.join(',')}`);
    })();
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const before = socketReadCount.bodies;
  try {
    const port = (server.address() as AddressInfo).port;
    const L = LARGE_BLOCK_SIZE;
    const body = random(2 * L + 17);
    const smalls = Array<number>(L / BLOCK_SIZE).fill(BLOCK_SIZE);
    for (const [headers, sizes] of [
      [{ 'Content-Length': body.length }, [L, L, 17]],
      [{ 'Transfer-Encoding': 'chunked' }, [...smalls, L, 17]],
    ] as const) {
      const answer = await new Promise<string>((resolve, reject) => {
        const req = http.request({ port, host: '127.0.0.1', method: 'PATCH', path: '/v2/r/blobs/uploads/x', agent: false, headers }, (res) => {
          let s = '';
          res.on('data', (d) => (s += d));
          res.on('end', () => resolve(s));
        });
        req.on('error', reject);
        req.setTimeout(10_000, () => req.destroy(new Error('no answer within 10 s')));
        // Several chunks, so that a chunked body has framing between its parts.
        for (let at = 0; at < body.length; at += 3 * 2 ** 20) req.write(body.subarray(at, at + 3 * 2 ** 20));
        req.end();
      });
      assert.equal(answer, `${body.length} ${sha(body)} ${sizes.join(',')}`, JSON.stringify(headers));
    }
    assert.equal(socketReadCount.bodies - before, 2, 'both read from the socket');
    assert.equal(blockCounts().largeOut, 0, 'every large block back in the pool');
  } finally {
    server.closeAllConnections();
    await new Promise((r) => server.close(r));
  }
});

/** Raw HTTP/1.1 on one connection: each request written as the test says, answers read in order. */
async function rawConnection(port: number) {
  const { connect } = await import('node:net');
  const socket = connect(port, '127.0.0.1');
  await new Promise<void>((resolve, reject) => socket.once('connect', resolve).once('error', reject));
  let received = '';
  const waiters: Array<() => void> = [];
  socket.on('data', (d) => {
    received += d.toString('latin1');
    for (const w of waiters.splice(0)) w();
  });
  return {
    socket,
    write: (b: Buffer | string) => new Promise<void>((resolve) => socket.write(b, () => resolve())),
    /** The next answer's body (answers carry Content-Length). */
    async answer(): Promise<string> {
      for (const stop = Date.now() + 10_000; Date.now() < stop; ) {
        const head = received.indexOf('\r\n\r\n');
        if (head >= 0) {
          const length = Number(/content-length: (\d+)/i.exec(received.slice(0, head))?.[1] ?? 0);
          if (received.length >= head + 4 + length) {
            const body = received.slice(head + 4, head + 4 + length);
            received = received.slice(head + 4 + length);
            return body;
          }
        }
        await new Promise<void>((resolve) => {
          waiters.push(resolve);
          setTimeout(resolve, 50);
        });
      }
      throw new Error(`no answer within 10 s; got ${JSON.stringify(received.slice(0, 200))}`);
    },
  };
}

test('the read that brought an upload\'s headers is copied once: the parser gives none of its body bytes to the request stream (the body takes them from that read), on a connection still Node\'s and on one read by Berth, and a plain body after them still reaches its stream', async () => {
  const server = http.createServer((req, res) => {
    if (!req.url!.includes('/blobs/uploads')) {
      // A request that is not an upload: its body goes through the parser to the stream, as always.
      const parts: Buffer[] = [];
      req.on('data', (d: Buffer) => parts.push(d));
      req.on('end', () => res.end(sha(Buffer.concat(parts))));
      return;
    }
    armBody(req);
    void (async () => {
      await sleep(20); // the read that brought the headers is parsed by now
      const early = req.readableLength;
      const hashed = createHash('sha256');
      const n = await requestBody(req).deliver({ data: (piece) => hashed.update(piece), block: async () => undefined });
      res.end(`${early} ${n} ${hashed.digest('hex')}`);
    })();
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const before = socketReadCount.bodies;
  const conn = await rawConnection((server.address() as AddressInfo).port);
  try {
    for (let i = 0; i < 2; i++) {
      const body = random(BLOCK_SIZE + 4321);
      // The headers and the body's first 1000 bytes in one write; the rest once that is parsed.
      await conn.write(Buffer.concat([Buffer.from(`PATCH /v2/r/blobs/uploads/x HTTP/1.1\r\nHost: x\r\nContent-Length: ${body.length}\r\n\r\n`), body.subarray(0, 1000)]));
      await sleep(5);
      await conn.write(body.subarray(1000));
      assert.equal(await conn.answer(), `0 ${body.length} ${sha(body)}`, `upload ${i + 1}: nothing in the request stream, the whole body delivered`);
    }
    assert.equal(socketReadCount.bodies - before, 2, 'both read from the socket');
    const plain = random(200_000);
    await conn.write(Buffer.concat([Buffer.from(`POST /other HTTP/1.1\r\nHost: x\r\nContent-Length: ${plain.length}\r\n\r\n`), plain.subarray(0, 1000)]));
    await sleep(5);
    await conn.write(plain.subarray(1000));
    assert.equal(await conn.answer(), sha(plain), 'the parser gives a later plain body to its stream');
  } finally {
    conn.socket.destroy();
    server.closeAllConnections();
    await new Promise((r) => server.close(r));
  }
});

test('a body whose socket cannot be switched (Node\'s pause listener gone) is read through the request stream whole, its first read\'s bytes first', async () => {
  const server = http.createServer((req, res) => {
    // What switching needs of Node is missing: the body stays with the parser, and the bytes the
    // parser was told not to give the stream during the first read must reach it before the rest.
    req.socket.removeAllListeners('pause');
    armBody(req);
    void (async () => {
      await sleep(20);
      const hashed = createHash('sha256');
      const n = await requestBody(req).deliver({ data: (piece) => hashed.update(piece), block: async () => undefined });
      res.end(`${n} ${hashed.digest('hex')}`);
    })();
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const before = socketReadCount.bodies;
  const conn = await rawConnection((server.address() as AddressInfo).port);
  try {
    const body = random(3 * BLOCK_SIZE + 17);
    await conn.write(Buffer.concat([Buffer.from(`PUT /v2/r/blobs/uploads/x HTTP/1.1\r\nHost: x\r\nContent-Length: ${body.length}\r\n\r\n`), body.subarray(0, 1000)]));
    await sleep(5);
    await conn.write(body.subarray(1000));
    assert.equal(await conn.answer(), `${body.length} ${sha(body)}`);
    assert.equal(socketReadCount.bodies, before, 'read through the stream, not the socket');
  } finally {
    conn.socket.destroy();
    server.closeAllConnections();
    await new Promise((r) => server.close(r));
  }
});
