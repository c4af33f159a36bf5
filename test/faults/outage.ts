/**
 * What the storage outage scenarios share (store-outage.test.ts on Ceph RGW, azure-outage.test.ts
 * on azurite): a request that must be answered 503 UNAVAILABLE within a bound, a pull checked
 * whole, and a pull held open in the middle of a blob while the store goes away.
 */
import assert from 'node:assert/strict';
import http from 'node:http';
import type { Registry } from '../helpers/registry.js';
import { digest } from '../helpers/content.js';
import { assertError, getManifest, type PushedImage } from '../helpers/push.js';
import type { Res } from '../helpers/http.js';
import { within } from './bounded.js';

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
