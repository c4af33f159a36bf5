import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { readdir, readFile, readlink } from 'node:fs/promises';
import net from 'node:net';
import { after, before, describe, it } from 'node:test';
import { digest, random, repoName } from '../helpers/content.js';
import { getManifest, pushImage } from '../helpers/push.js';
import { request } from '../helpers/http.js';
import { freePort, type Registry } from '../helpers/registry.js';
import { logLines as workerLog, startWorkers, until } from './helpers.js';
import { multiInstanceScenarios } from '../scale/multi-instance.scenarios.js';
import { WORKER_SEMI_SPACE } from '../../src/cluster/primary.js';

/**
 * `berth serve` with berth.workers: 2 on the filesystem, no redis: the workers take the
 * connections the primary deals them and must behave as one registry (src/cluster/, docs/architecture.md "Workers").
 */
let registry: Registry;
let debugUrl: string;
const spread: Registry[] = [];

function yaml(debugPort: number): string {
  return [
    'version: 0.1',
    'log:',
    '  level: info',
    '  formatter: json',
    'storage:',
    '  filesystem:',
    '    rootdirectory: {{root}}',
    '  delete:',
    '    enabled: true',
    '  maintenance:',
    '    uploadpurging:',
    '      enabled: false',
    'http:',
    '  addr: {{addr}}',
    '  debug:',
    `    addr: 127.0.0.1:${debugPort}`,
    '    prometheus:',
    '      enabled: true',
    '      path: /metrics',
    'berth:',
    '  http:',
    '    headertimeout: 2s',
    '',
  ].join('\n');
}

const logLines = () => workerLog(registry);

/** The workers' process ids, as the primary last reported them ready, by slot. */
function workerPids(): Map<number, number> {
  const out = new Map<number, number>();
  for (const l of logLines()) if (l.msg === 'worker ready') out.set(l.slot!, l.workerPid!);
  return out;
}

/** Which worker holds the server end of a connection whose client port is `clientPort` (Linux /proc). */
async function ownerOf(clientPort: number, pids: number[]): Promise<number | undefined> {
  const serverPort = Number(new URL(registry.url).port);
  const hex = (n: number) => n.toString(16).toUpperCase().padStart(4, '0');
  const table = await readFile('/proc/net/tcp', 'utf8');
  const row = table.split('\n').map((l) => l.trim().split(/\s+/)).find((f) => f[1]?.endsWith(`:${hex(serverPort)}`) && f[2]?.endsWith(`:${hex(clientPort)}`));
  if (!row) return undefined;
  const inode = `socket:[${row[9]}]`;
  for (const pid of pids) {
    for (const fd of await readdir(`/proc/${pid}/fd`).catch(() => [])) {
      if ((await readlink(`/proc/${pid}/fd/${fd}`).catch(() => '')) === inode) return pid;
    }
  }
  return undefined;
}

/** Established connections to the registry's port whose server end `pid` holds (Linux /proc). */
async function connectionsOf(pid: number): Promise<number> {
  const serverPort = Number(new URL(registry.url).port).toString(16).toUpperCase().padStart(4, '0');
  const held = new Set<string>();
  for (const fd of await readdir(`/proc/${pid}/fd`).catch(() => [])) {
    const m = /^socket:\[(\d+)\]$/.exec(await readlink(`/proc/${pid}/fd/${fd}`).catch(() => ''));
    if (m) held.add(m[1]!);
  }
  const rows = (await readFile('/proc/net/tcp', 'utf8')).split('\n').map((l) => l.trim().split(/\s+/));
  return rows.filter((f) => f[1]?.endsWith(`:${serverPort}`) && f[3] === '01' && held.has(f[9]!)).length;
}

/** A kept-alive connection that has been answered once (so a worker holds it). */
async function answeredConnection(): Promise<net.Socket> {
  const u = new URL(registry.url);
  const socket = net.connect(Number(u.port), u.hostname);
  socket.on('error', () => undefined);
  let received = '';
  socket.on('data', (c: Buffer) => (received += c.toString('latin1')));
  socket.write('GET /v2/ HTTP/1.1\r\nHost: x\r\n\r\n');
  await until('an answer', () => /^HTTP\/1\.1 200/.test(received));
  return socket;
}

const pathOf = (location: string) => {
  const u = new URL(location, registry.url);
  return u.pathname + u.search;
};

/** A request whose body is sent in part and held: `finish` sends the rest and resolves with the status line's code. */
async function heldRequest(head: string, first: Buffer, rest: Buffer): Promise<{ socket: net.Socket; finish(): Promise<number>; closed: Promise<void> }> {
  const u = new URL(registry.url);
  const socket = net.connect(Number(u.port), u.hostname);
  await new Promise<void>((resolve) => socket.once('connect', () => resolve()));
  let received = '';
  socket.on('data', (c: Buffer) => (received += c.toString('latin1')));
  socket.on('error', () => undefined);
  const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()));
  socket.write(head);
  socket.write(first);
  return {
    socket,
    closed,
    async finish() {
      // Not end(): a half-closed connection aborts the request in Node's server.
      socket.write(rest);
      await until('an answer', () => /^HTTP\/1\.1 \d{3}/.test(received) || socket.destroyed);
      return Number(/^HTTP\/1\.1 (\d{3})/.exec(received)?.[1] ?? 0);
    },
  };
}

const patchHead = (location: string, from: number, length: number) =>
  `PATCH ${pathOf(location)} HTTP/1.1\r\nHost: x\r\nContent-Type: application/octet-stream\r\nContent-Range: ${from}-${from + length - 1}\r\nContent-Length: ${length}\r\nConnection: close\r\n\r\n`;

before(async () => {
  const debugPort = await freePort();
  registry = await startWorkers(2, { yaml: yaml(debugPort) });
  debugUrl = `http://127.0.0.1:${debugPort}`;
  // Three handles on the one address; each request on its own connection, as spread by a load balancer.
  for (let i = 0; i < 3; i++) spread.push({ ...registry, req: (m, p, o) => registry.req(m, p, { ...o, fresh: true }) });
});
after(async () => {
  await registry?.stop();
});

describe('berth serve with two workers, no redis', () => {
  multiInstanceScenarios({ instances: () => spread });

  it('starts each worker with a young generation of 2 × 8 MiB (the primary\'s node options otherwise)', async () => {
    await until('both workers ready', () => workerPids().size === 2);
    for (const pid of workerPids().values()) {
      const args = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
      assert.ok(args.includes(WORKER_SEMI_SPACE), args.join(' '));
    }
  });

  it('spreads connections over both workers', () => {
    const served = new Set(logLines().filter((l) => l.msg === 'request').map((l) => l.worker));
    assert.deepEqual([...served].sort(), [0, 1], 'requests logged by both workers, none by the primary');
  });

  it('hands each new connection to the worker with the fewest open, also once some have closed', async () => {
    const [a, b] = [...workerPids().values()] as [number, number];
    const gap = async () => (await connectionsOf(a)) - (await connectionsOf(b));
    const start = await gap();
    // Opened at once: dealt evenly, however fast each worker takes them (Node's own scheduling gave
    // a worker the next connection as soon as it acknowledged the last, and split bursts unevenly).
    const first = await Promise.all(Array.from({ length: 12 }, answeredConnection));
    const more = [...first];
    try {
      assert.ok(Math.abs(await gap()) <= 1, `open connections per worker differ by ${await gap()} (before: ${start})`);
      // Close four of a's: the next four all go to a.
      const ofA: net.Socket[] = [];
      for (const s of first) if (ofA.length < 4 && (await ownerOf(s.localPort!, [a, b])) === a) ofA.push(s);
      assert.equal(ofA.length, 4);
      const before = await connectionsOf(a);
      for (const s of ofA) s.destroy();
      await until('a to have closed them', async () => (await connectionsOf(a)) === before - 4);
      // A worker reports closes within 10 ms; a margin for the report to reach the primary.
      await new Promise((r) => setTimeout(r, 300));
      const next = await Promise.all(Array.from({ length: 4 }, answeredConnection));
      more.push(...next);
      assert.deepEqual(await Promise.all(next.map((s) => ownerOf(s.localPort!, [a, b]))), [a, a, a, a]);
    } finally {
      for (const s of more) s.destroy();
    }
  });

  it('closes a connection whose headers never end after berth.http.headertimeout', async () => {
    const u = new URL(registry.url);
    const socket = net.connect(Number(u.port), u.hostname);
    socket.on('error', () => undefined);
    await new Promise<void>((resolve) => socket.once('connect', () => resolve()));
    socket.write('GET /v2/ HTTP/1.1\r\nHost: x\r\n');
    const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()));
    // Workers do not listen themselves: the check of their connections' timeouts must run anyway.
    const drip = setInterval(() => socket.write(`X-Drip-${Date.now()}: x\r\n`), 100);
    try {
      await until('the server to close it', () => socket.destroyed || socket.readableEnded);
      await closed;
    } finally {
      clearInterval(drip);
      socket.destroy();
    }
  });

  it('sums every worker\'s metrics on the debug server', async () => {
    const count = async () => {
      const text = await (await fetch(`${debugUrl}/metrics`)).text();
      const m = /^registry_http_requests_total\{code="200",handler="base",method="get"\} (\d+)$/m.exec(text);
      return Number(m?.[1] ?? 0);
    };
    const before = await count();
    for (let i = 0; i < 10; i++) assert.equal((await request(registry.url, 'GET', '/v2/', { fresh: true })).status, 200);
    assert.equal(await count(), before + 10);
  });

  it('marks every worker down and up from the debug server', async () => {
    assert.equal((await fetch(`${debugUrl}/debug/health/down`, { method: 'POST' })).status, 200);
    try {
      const health = await fetch(`${debugUrl}/debug/health`);
      assert.equal(health.status, 503);
      assert.ok('manual_http_status' in ((await health.json()) as object));
      for (let i = 0; i < 4; i++) assert.equal((await request(registry.url, 'GET', '/v2/_catalog', { fresh: true, allowServerError: true })).status, 503);
    } finally {
      assert.equal((await fetch(`${debugUrl}/debug/health/up`, { method: 'POST' })).status, 200);
    }
    assert.equal((await fetch(`${debugUrl}/debug/health`)).status, 200);
    for (let i = 0; i < 4; i++) assert.equal((await request(registry.url, 'GET', '/v2/_catalog', { fresh: true })).status, 200);
  });

  it('replaces a worker killed mid-upload; the client\'s retry completes on the other, whose requests in flight carry on', async () => {
    const repo = repoName('killed');
    const data = random(3 * 1024 * 1024);
    const cut = 1024 * 1024;
    const start = await registry.req('POST', `/v2/${repo}/blobs/uploads/`, { fresh: true });
    assert.equal(start.status, 202);
    const location = start.header('location')!;
    // Unrelated uploads, one held open on the other worker while the first is killed.
    const others: string[] = [];
    for (let i = 0; i < 20; i++) others.push((await registry.req('POST', `/v2/${repo}/blobs/uploads/`, { fresh: true })).header('location')!);
    const otherData = random(64 * 1024);
    const pids = [...workerPids().values()];
    let doomed: Awaited<ReturnType<typeof heldRequest>> | undefined;
    let survivor: Awaited<ReturnType<typeof heldRequest>> | undefined;
    // Connections go to whichever worker is free next (node:cluster's round robin): open held requests until one sits on each.
    const held: Array<{ r: Awaited<ReturnType<typeof heldRequest>>; pid: number | undefined; kind: 'doomed' | 'survivor' }> = [];
    for (let i = 0; i < 20 && !(doomed && survivor); i++) {
      const kind = doomed ? 'survivor' : 'doomed';
      const r = kind === 'doomed'
        ? await heldRequest(patchHead(location, 0, cut), data.subarray(0, cut / 2), data.subarray(cut / 2, cut))
        : await heldRequest(patchHead(others[i]!, 0, otherData.length), otherData.subarray(0, 1000), otherData.subarray(1000));
      let pid: number | undefined;
      await until('the connection to reach a worker', async () => (pid = await ownerOf(r.socket.localPort!, pids)) !== undefined);
      if (kind === 'doomed') doomed = r;
      else if (pid !== held[0]!.pid) survivor = r;
      else r.socket.destroy();
      held.push({ r, pid, kind });
    }
    assert.ok(doomed && survivor, 'held requests on both workers');
    // The killed worker has stored the first half (a whole block) by then: with nothing stored
    // the Range would be "0-0", which cannot tell 0 bytes from 1 (as Distribution's).
    await until('the first half of the doomed chunk stored', async () =>
      (await registry.req('GET', pathOf(location), { fresh: true })).header('range') === `0-${cut / 2 - 1}`);
    const victim = held[0]!.pid!;
    process.kill(victim, 'SIGKILL');
    await doomed.closed;
    // The request in flight on the other worker is unaffected.
    assert.equal(await survivor.finish(), 202, 'the request on the other worker');
    // The client asks where the upload stands (another worker answers) and sends the rest from there.
    const status = await registry.req('GET', pathOf(location), { fresh: true });
    assert.equal(status.status, 204, status.text());
    const range = status.header('range');
    const from = range ? Number(range.split('-')[1]) + 1 : 0;
    assert.ok(from >= 0 && from <= cut);
    const url = new URL(status.header('location')!, registry.url);
    url.searchParams.set('digest', digest(data));
    const put = await registry.req('PUT', url.pathname + url.search, {
      fresh: true,
      body: data.subarray(from),
      headers: { 'Content-Type': 'application/octet-stream', ...(from < data.length ? { 'Content-Range': `${from}-${data.length - 1}` } : {}) },
    });
    assert.equal(put.status, 201, put.text());
    const get = await registry.req('GET', `/v2/${repo}/blobs/${digest(data)}`, { fresh: true });
    assert.ok(get.body.equals(data));
    // The primary logged the death and started a replacement in its slot.
    await until('a replacement worker', () => workerPids().size === 2 && ![...workerPids().values()].includes(victim));
    assert.ok(logLines().some((l) => l.msg === 'worker exited; starting another' && l.workerPid === victim));
    for (let i = 0; i < 4; i++) assert.equal((await request(registry.url, 'GET', '/v2/', { fresh: true })).status, 200);
  });

  it('drains every worker on SIGTERM and exits once all are done; pull records from both workers add up', async () => {
    const repo = repoName('drain');
    // Pulls spread over both workers; their records are written on the way out (one writer: the jobs worker).
    const image = await pushImage(spread[0]!, repo, 'v1');
    for (let i = 0; i < 8; i++) assert.equal((await getManifest(spread[0]!, repo, 'v1')).status, 200);
    const pids = [...workerPids().values()];
    const held: Array<{ r: Awaited<ReturnType<typeof heldRequest>>; pid: number }> = [];
    // Uploads first, then held requests until one sits on each worker (each new connection goes to the worker with fewer).
    const locations: string[] = [];
    for (let i = 0; i < 20; i++) locations.push((await registry.req('POST', `/v2/${repo}/blobs/uploads/`, { fresh: true })).header('location')!);
    for (let i = 0; i < 20 && new Set(held.map((h) => h.pid)).size < 2; i++) {
      const body = random(4096);
      const r = await heldRequest(patchHead(locations[i]!, 0, body.length), body.subarray(0, 100), body.subarray(100));
      let pid: number | undefined;
      await until('the connection to reach a worker', async () => (pid = await ownerOf(r.socket.localPort!, pids)) !== undefined);
      held.push({ r, pid: pid! });
    }
    assert.equal(new Set(held.map((h) => h.pid)).size, 2, 'requests in flight on both workers');
    process.kill(registry.pid!, 'SIGTERM');
    await until('both workers told to drain', () => registry.output!().split('told to stop by the primary').length > 2);
    for (const { r } of held) assert.equal(await r.finish(), 202);
    await registry.exited;
    assert.equal(registry.exitCode!(), 0);
    for (const pid of pids) assert.throws(() => process.kill(pid, 0), 'every worker has exited');
    const records = JSON.parse(await readFile(`${registry.root}/docker/registry/v2/_berth/records/${repo}/_records.json`, 'utf8')) as Record<string, { pulls: number }>;
    assert.equal(records[image.manifest.digest]?.pulls, 8);
  });
});
