/**
 * Upload bodies as they arrive on a real connection: megabytes in pieces of every size, several
 * requests on one kept-alive connection, chunked transfer coding with extensions and trailers, a
 * request pipelined right behind a body, broken framing and clients that go away mid-body (after
 * which every block is back in the pool). Plain HTTP/1.1 upload bodies that go on past their
 * first read are read from the socket into the upload's blocks (src/api/body/socket-reads.ts);
 * each test checks that this path was taken and that what was stored is exactly what was sent.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { readdir } from 'node:fs/promises';
import net from 'node:net';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { socketReadCount } from '../../src/api/body/socket-reads.js';
import { blockCounts } from '../../src/storage/upload-body.js';
import { startRegistry, type Registry } from '../helpers/registry.js';
import { digest, random, repoName } from '../helpers/content.js';

let reg: Registry;
before(async () => {
  reg = await startRegistry();
});
after(async () => {
  await reg?.stop();
});

const MIB = 1024 * 1024;

/** Every upload block is back in the shared pool once the bodies of a test are over (it waits for their storage to settle). */
async function allBlocksBack(): Promise<void> {
  for (const stop = Date.now() + 5000; blockCounts().out > 0 && Date.now() < stop; ) await sleep(25);
  assert.equal(blockCounts().out, 0, 'blocks still held by bodies that are over');
}

interface Answer {
  status: number;
  headers: Record<string, string>;
  body: string;
}

/** One kept-alive connection, written to byte by byte as a test says, its answers read in order. */
class Connection {
  private readonly socket: net.Socket;
  private buffered = Buffer.alloc(0);
  private waiting: (() => void) | undefined;
  closed = false;

  constructor(url: string) {
    const u = new URL(url);
    this.socket = net.connect(Number(u.port), u.hostname);
    this.socket.on('data', (d: Buffer) => {
      this.buffered = Buffer.concat([this.buffered, d]);
      this.waiting?.();
    });
    this.socket.on('error', () => undefined);
    this.socket.on('close', () => {
      this.closed = true;
      this.waiting?.();
    });
  }

  /** Writes `bytes` in pieces of the given sizes (cycled), pausing now and then so reads split differently. */
  async write(bytes: Buffer, pieces: number[] = [bytes.length]): Promise<void> {
    let at = 0;
    for (let i = 0; at < bytes.length; i++) {
      const n = Math.min(pieces[i % pieces.length]!, bytes.length - at);
      if (!this.socket.write(bytes.subarray(at, at + n))) await new Promise((r) => this.socket.once('drain', r));
      at += n;
      if (i % 7 === 3) await sleep(2);
    }
  }

  /** The next answer (a head and a Content-Length body, none for a HEAD), or undefined once the server closed without one. */
  async answer(toHead = false): Promise<Answer | undefined> {
    for (;;) {
      const split = this.buffered.indexOf('\r\n\r\n');
      if (split >= 0) {
        const lines = this.buffered.subarray(0, split).toString('latin1').split('\r\n');
        const headers: Record<string, string> = {};
        for (const l of lines.slice(1)) headers[l.slice(0, l.indexOf(':')).toLowerCase()] = l.slice(l.indexOf(':') + 1).trim();
        const length = toHead ? 0 : Number(headers['content-length'] ?? 0);
        if (this.buffered.length >= split + 4 + length) {
          const body = this.buffered.subarray(split + 4, split + 4 + length).toString();
          this.buffered = this.buffered.subarray(split + 4 + length);
          return { status: Number(/^HTTP\/1\.1 (\d{3})/.exec(lines[0]!)![1]), headers, body };
        }
      }
      if (this.closed) return undefined;
      await new Promise<void>((r) => (this.waiting = r));
      this.waiting = undefined;
    }
  }

  /** Resolves once the server has closed the connection (or after `ms`, as false). */
  async closedWithin(ms: number): Promise<boolean> {
    const deadline = Date.now() + ms;
    while (!this.closed && Date.now() < deadline) await sleep(20);
    return this.closed;
  }

  end(): void {
    this.socket.destroy();
  }
}

function head(method: string, target: string, headers: Record<string, string | number>): Buffer {
  const lines = [`${method} ${target} HTTP/1.1`, 'Host: registry', ...Object.entries(headers).map(([k, v]) => `${k}: ${v}`)];
  return Buffer.from(`${lines.join('\r\n')}\r\n\r\n`, 'latin1');
}

/** `data` in chunked transfer coding, chunks of the given sizes (cycled), with an extension now and then and a trailer field. */
function chunked(data: Buffer, sizes: number[]): Buffer {
  const parts: Buffer[] = [];
  let at = 0;
  for (let i = 0; at < data.length; i++) {
    const n = Math.min(sizes[i % sizes.length]!, data.length - at);
    parts.push(Buffer.from(`${n.toString(16)}${i % 3 === 1 ? ';name=value' : ''}\r\n`), data.subarray(at, at + n), Buffer.from('\r\n'));
    at += n;
  }
  parts.push(Buffer.from('0\r\nX-Trailer: yes\r\n\r\n'));
  return Buffer.concat(parts);
}

function pathOf(location: string): string {
  const u = new URL(location, reg.url);
  return u.pathname + u.search;
}

async function open(conn: Connection, repo: string): Promise<string> {
  await conn.write(head('POST', `/v2/${repo}/blobs/uploads/`, { 'Content-Length': 0 }));
  const a = await conn.answer();
  assert.equal(a?.status, 202);
  return pathOf(a.headers.location!);
}

async function uploadFolder(repo: string): Promise<string[]> {
  const dir = path.join(reg.root, 'docker/registry/v2/repositories', repo, '_uploads');
  return existsSync(dir) ? readdir(dir) : [];
}

test('several PATCHes of megabytes on one kept-alive connection, by Content-Length and chunked, then the closing PUT with the last bytes', async () => {
  const repo = repoName('bodies');
  const parts = [random(3 * MIB + 5), random(2 * MIB + 1), random(1), random(MIB + 7)];
  const whole = Buffer.concat(parts);
  const before = socketReadCount.bodies;
  const conn = new Connection(reg.url);
  try {
    let location = await open(conn, repo);
    let offset = 0;
    const octet = { 'Content-Type': 'application/octet-stream' };
    // By Content-Length, written in pieces of every size.
    await conn.write(Buffer.concat([head('PATCH', location, { ...octet, 'Content-Length': parts[0]!.length, 'Content-Range': `0-${parts[0]!.length - 1}` }), parts[0]!]), [1, 70_000, 3, 1_000_000, 65_536, 524_289]);
    let a = await conn.answer();
    assert.equal(a?.status, 202, a?.body);
    offset += parts[0]!.length;
    assert.equal(a.headers.range, `0-${offset - 1}`);
    location = pathOf(a.headers.location!);
    // Chunked transfer coding, chunks from 1 byte to 1 MiB, extensions and a trailer.
    await conn.write(Buffer.concat([head('PATCH', location, { ...octet, 'Transfer-Encoding': 'chunked' }), chunked(parts[1]!, [1, 100_000, 7, MIB, 65_536, 3])]), [4096, 1, 300_000]);
    a = await conn.answer();
    assert.equal(a?.status, 202, a?.body);
    offset += parts[1]!.length;
    assert.equal(a.headers.range, `0-${offset - 1}`);
    location = pathOf(a.headers.location!);
    // A one-byte chunk (whole in the first read) and a status request between.
    await conn.write(Buffer.concat([head('PATCH', location, { ...octet, 'Content-Length': 1 }), parts[2]!]));
    a = await conn.answer();
    assert.equal(a?.status, 202, a?.body);
    offset += 1;
    location = pathOf(a.headers.location!);
    await conn.write(head('GET', location, {}));
    a = await conn.answer();
    assert.equal(a?.status, 204);
    assert.equal(a.headers.range, `0-${offset - 1}`);
    // The closing PUT brings the last bytes.
    const d = digest(whole);
    await conn.write(Buffer.concat([head('PUT', `${location}&digest=${d}`, { ...octet, 'Content-Length': parts[3]!.length }), parts[3]!]), [65_536, 17]);
    a = await conn.answer();
    assert.equal(a?.status, 201, a?.body);
    assert.equal(a.headers['docker-content-digest'], d);
    assert.ok(!conn.closed, 'the connection stays open after every upload');
    const got = await reg.req('GET', `/v2/${repo}/blobs/${d}`);
    assert.equal(got.status, 200);
    assert.ok(got.body.equals(whole), 'the stored blob is the bytes sent');
    assert.ok(socketReadCount.bodies - before >= 3, `bodies read from the socket: ${socketReadCount.bodies - before}`);
  } finally {
    conn.end();
  }
});

test('a request written right behind a body, in the same write, is answered after it', async () => {
  const repo = repoName('bodies');
  const data = random(2 * MIB + 3);
  const d = digest(data);
  const before = socketReadCount.bodies;
  const conn = new Connection(reg.url);
  try {
    const location = await open(conn, repo);
    // A monolithic PUT and a HEAD of the registry, sent as one stream of bytes (Node handles
    // pipelined requests at once and answers them in order, so the second must not depend on the first).
    await conn.write(Buffer.concat([head('PUT', `${location}&digest=${d}`, { 'Content-Length': data.length }), data, head('HEAD', '/v2/', {})]), [MIB]);
    const put = await conn.answer();
    assert.equal(put?.status, 201, put?.body);
    assert.equal(put.headers['docker-content-digest'], d);
    const headAnswer = await conn.answer(true);
    assert.equal(headAnswer?.status, 200);
    assert.equal((await reg.req('HEAD', `/v2/${repo}/blobs/${d}`)).status, 200);
    assert.equal(socketReadCount.bodies - before, 1);
  } finally {
    conn.end();
  }
});

test('a monolithic upload under the wrong digest, read from the socket, is refused and stores nothing', async () => {
  const repo = repoName('bodies');
  const data = random(3 * MIB);
  const wrong = digest(random(10));
  const conn = new Connection(reg.url);
  try {
    await conn.write(Buffer.concat([head('POST', `/v2/${repo}/blobs/uploads/?digest=${wrong}`, { 'Content-Length': data.length }), data]), [100_000]);
    const a = await conn.answer();
    assert.equal(a?.status, 400);
    assert.equal(JSON.parse(a.body).errors[0].code, 'DIGEST_INVALID');
    assert.equal((await reg.req('HEAD', `/v2/${repo}/blobs/${wrong}`)).status, 404);
    assert.equal((await reg.req('HEAD', `/v2/${repo}/blobs/${digest(data)}`)).status, 404);
    assert.deepEqual(await uploadFolder(repo), [], 'no upload left behind');
    await allBlocksBack();
  } finally {
    conn.end();
  }
});

test('a chunked body whose framing breaks after a megabyte answers 400 and closes the connection; only whole data counts', async () => {
  const repo = repoName('bodies');
  const conn = new Connection(reg.url);
  try {
    const location = await open(conn, repo);
    const good = chunked(random(MIB), [65_536]);
    const valid = good.subarray(0, good.length - '0\r\nX-Trailer: yes\r\n\r\n'.length);
    await conn.write(Buffer.concat([head('PATCH', location, { 'Transfer-Encoding': 'chunked' }), valid, Buffer.from('zz\r\nnot a chunk\r\n')]), [200_000]);
    const a = await conn.answer();
    assert.equal(a?.status, 400);
    assert.ok(await conn.closedWithin(5000), 'the connection is closed after the answer');
    // Nothing of the failed request is visible as a blob; the upload holds at most the chunks that arrived whole.
    const status = await reg.req('GET', location);
    assert.equal(status.status, 204);
    const end = Number(/^0-(\d+)$/.exec(status.header('range') ?? '')?.[1]);
    assert.ok(end < MIB, `Range ${status.header('range')}`);
  } finally {
    conn.end();
  }
  const after = await reg.req('GET', '/v2/');
  assert.equal(after.status, 200, 'the registry serves on');
  await allBlocksBack();
});

test('a client that goes away mid-body: a monolithic upload leaves no upload behind and no blob; a PATCH keeps no more than arrived', async () => {
  const repo = repoName('bodies');
  const data = random(4 * MIB);
  const d = digest(data);
  const before = socketReadCount.bodies;
  // Monolithic POST ?digest=: 2 MiB of 4 sent, then the connection is reset.
  let conn = new Connection(reg.url);
  await conn.write(Buffer.concat([head('POST', `/v2/${repo}/blobs/uploads/?digest=${d}`, { 'Content-Length': data.length }), data.subarray(0, 2 * MIB)]), [300_000]);
  await sleep(100);
  conn.end();
  const deadline = Date.now() + 5000;
  while ((await uploadFolder(repo)).length > 0 && Date.now() < deadline) await sleep(25);
  assert.deepEqual(await uploadFolder(repo), [], 'the temporary upload is removed');
  assert.equal((await reg.req('HEAD', `/v2/${repo}/blobs/${d}`)).status, 404);
  // PATCH: 1 MiB of 4 sent, then the connection is reset; the upload goes on from what it holds.
  conn = new Connection(reg.url);
  const location = await open(conn, repo);
  await conn.write(Buffer.concat([head('PATCH', location, { 'Content-Length': data.length }), data.subarray(0, MIB)]), [250_000]);
  await sleep(100);
  conn.end();
  let range = '';
  for (const stop = Date.now() + 5000; Date.now() < stop; await sleep(25)) {
    const s = await reg.req('GET', location);
    if (s.status !== 204) continue;
    range = s.header('range') ?? '';
    break;
  }
  const end = Number(/^0-(\d+)$/.exec(range)?.[1]);
  assert.ok(end < MIB, `Range ${range}`);
  assert.equal((await reg.req('HEAD', `/v2/${repo}/blobs/${d}`)).status, 404);
  assert.equal(socketReadCount.bodies, before, 'no body counts as read whole');
  await allBlocksBack();
});
