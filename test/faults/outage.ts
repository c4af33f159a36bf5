/**
 * What the storage outage scenarios share (store-outage.test.ts on Ceph RGW, azure-outage.test.ts
 * on azurite): a request that must be answered 503 UNAVAILABLE within a bound (and one of each
 * kind), a pull checked whole, a pull held open in the middle of a blob while the store goes away,
 * an upload cut by the outage resumed after it, and a store gone silent behind a relay.
 */
import assert from 'node:assert/strict';
import http from 'node:http';
import type { Registry } from '../helpers/registry.js';
import { digest, type Manifest } from '../helpers/content.js';
import { assertError, getManifest, withQuery, type PushedImage } from '../helpers/push.js';
import type { Res } from '../helpers/http.js';
import { until, within } from './bounded.js';
import type { Relay } from './relay.js';

export const OCTETS = { 'Content-Type': 'application/octet-stream' };

/** A request the outage must answer 503 UNAVAILABLE (never 500, never a hang). */
export async function unavailable(what: string, boundMs: number, send: () => Promise<Res>): Promise<Res> {
  const res = await within(boundMs, send(), what);
  assertError(res, 503, 'UNAVAILABLE', what);
  return res;
}

export async function pullsWhole(reg: Registry, repo: string, ref: string, image: PushedImage): Promise<void> {
  const m = await getManifest(reg, repo, ref);
  assert.equal(m.status, 200, `GET ${repo}:${ref}`);
  assert.equal(digest(m.body), image.manifest.digest);
  for (const b of [image.config, ...image.layers]) {
    const res = await reg.req('GET', `/v2/${repo}/blobs/${b.digest}`);
    assert.equal(res.status, 200);
    assert.equal(digest(res.body), b.digest);
  }
}

/** A pull that reads the first bytes of a blob and then waits until told to read the rest. */
export function slowPull(reg: Registry, path: string): { started: Promise<void>; finish(): Promise<{ complete: boolean; body: Buffer }> } {
  const u = new URL(reg.url);
  let go: () => void = () => undefined;
  const release = new Promise<void>((r) => (go = r));
  let started: () => void = () => undefined;
  const startedP = new Promise<void>((r) => (started = r));
  const done = new Promise<{ complete: boolean; body: Buffer }>((resolve) => {
    const req = http.get({ host: u.hostname, port: Number(u.port), path, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.once('data', (c: Buffer) => {
        chunks.push(c);
        res.pause();
        started();
        void release.then(() => {
          res.on('data', (c2: Buffer) => chunks.push(c2));
          res.resume();
        });
      });
      res.on('end', () => resolve({ complete: res.complete, body: Buffer.concat(chunks) }));
      res.on('aborted', () => resolve({ complete: false, body: Buffer.concat(chunks) }));
      res.on('error', () => resolve({ complete: false, body: Buffer.concat(chunks) }));
    });
    req.on('error', () => resolve({ complete: false, body: Buffer.alloc(0) }));
  });
  return { started: startedP, finish: () => (go(), done) };
}

/**
 * New requests during an outage, one of each kind: a clear 503 each within `boundMs` (no hang),
 * the message naming the storage (`names`). `upload` is an upload's location, `manifest` one
 * whose blobs are stored and `blob` a stored blob of `repo`.
 */
export async function answeredUnavailable(reg: Registry, repo: string, o: { blob: string; manifest: Manifest; upload: string; boundMs: number; names: RegExp }): Promise<void> {
  const { boundMs: bound, manifest } = o;
  await unavailable('POST of an upload', bound, () => reg.req('POST', `/v2/${repo}/blobs/uploads/`, { allowServerError: true }));
  await unavailable('PUT of a blob', bound, () => reg.req('POST', `/v2/${repo}/blobs/uploads/?digest=${digest('x')}`, { body: 'x', headers: OCTETS, allowServerError: true }));
  await unavailable('GET of a blob', bound, () => reg.req('GET', `/v2/${repo}/blobs/${o.blob}`, { allowServerError: true }));
  await unavailable('PUT of a manifest', bound, () => reg.req('PUT', `/v2/${repo}/manifests/v2`, { body: manifest.bytes, headers: { 'Content-Type': manifest.mediaType }, allowServerError: true }));
  await unavailable('GET of an unknown tag', bound, () => reg.req('GET', `/v2/${repo}/manifests/nope`, { allowServerError: true }));
  const body = (await unavailable('GET of the upload status', bound, () => reg.req('GET', o.upload, { allowServerError: true }))).json();
  assert.match(body.errors[0].message, o.names, 'the message names the storage');
}

/**
 * Finishes the upload at `location` with `data` from where the registry says it stands (its
 * Range), checks the blob pulls whole, and returns how many bytes the upload had kept.
 */
export async function resumeUpload(reg: Registry, repo: string, location: string, data: Buffer): Promise<number> {
  const status = await reg.req('GET', location);
  assert.equal(status.status, 204, 'the cut upload is still there');
  const range = /^0-(\d+)$/.exec(status.header('range') ?? '');
  assert.ok(range, `Range ${status.header('range')}`);
  const have = Number(range[1]) + 1;
  assert.ok(have <= data.length);
  const loc = new URL(status.header('location')!, reg.url).toString();
  const done = await reg.req('PUT', withQuery(loc, { digest: digest(data) }), { body: data.subarray(have), headers: { ...OCTETS, 'Content-Range': `${have}-${data.length - 1}` } });
  assert.equal(done.status, 201, done.text());
  const got = await reg.req('GET', `/v2/${repo}/blobs/${digest(data)}`);
  assert.equal(digest(got.body), digest(data), 'the resumed upload pulls whole');
  return have;
}

/**
 * The store goes silent (the relay holds every byte) under 20 requests at once (upload starts and
 * blob GETs): each is answered 503 UNAVAILABLE saying the store did not answer, within 30 s and
 * not before `timeoutMs` (the driver's requesttimeout), every connection to the store is let go,
 * and once bytes pass again Berth serves by itself and `image` pulls whole.
 */
export async function silentStoreAnswered(reg: Registry, relay: Relay, repo: string, image: PushedImage, timeoutMs: number, names: RegExp): Promise<void> {
  relay.mode = 'hold';
  const started = Date.now();
  const requests = Array.from({ length: 20 }, (_, i) => (i % 2
    ? reg.req('POST', `/v2/${repo}/blobs/uploads/`, { allowServerError: true })
    : reg.req('GET', `/v2/${repo}/blobs/${image.layers[0]!.digest}`, { allowServerError: true })));
  // A few tries of timeoutMs each (the driver's), plus short backoffs: a bound of a few seconds;
  // 30 s leaves room for a loaded machine and still tells a hang from a timeout.
  const answers = await within(30_000, Promise.all(requests), 'requests to a silent store');
  const took = Date.now() - started;
  for (const res of answers) assertError(res, 503, 'UNAVAILABLE', 'a request to a silent store');
  assert.ok(took >= timeoutMs, `answered after ${took} ms: the store's timeout, not an earlier failure`);
  assert.match(answers[0]!.text(), names, 'the message names the store');
  assert.match(answers[0]!.text(), /did not answer/, 'the message says the store did not answer');
  // Each timed-out request closed its connection to the store: nothing is left holding one.
  await until(10_000, 'the connections to the store are let go', () => relay.open === 0);

  relay.mode = 'pass';
  await until(30_000, 'Berth serves again', async () => (await reg.req('POST', `/v2/${repo}/blobs/uploads/`, { allowServerError: true })).status === 202, 100);
  await pullsWhole(reg, repo, 'v1', image);
}
