/**
 * Redis outage: three Berth instances share one storage root and one Redis (invalidation bus and
 * blob descriptor cache). Redis is killed; the instances keep serving pushes, pulls, tag moves
 * and deletes, each answered within a bound; what one instance changes the others serve within
 * berth.metadatattl (the documented bound without the bus). Redis is started again (empty): the
 * instances reconnect by themselves, and a change made through one is served by the others at
 * once again.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { defaultYaml, startRegistry, type Registry } from '../helpers/registry.js';
import { blob, digest, imageConfig, ociManifest, random, repoName, type Manifest } from '../helpers/content.js';
import { getManifest, pushBlobs, pushManifest, startUpload, withQuery } from '../helpers/push.js';
import { startRedisControl, type RedisControl } from './redis-control.js';
import { until, within } from './bounded.js';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';

/** berth.metadatattl here: long enough that a change seen at once can only have come over Redis. */
const TTL_MS = 3000;
/** A request during the outage: answered within this (the publish gives up after 1 s). */
const REQUEST_BOUND_MS = 10_000;

let redis: RedisControl;
let base: string;
const regs: Registry[] = [];

before(async () => {
  redis = await startRedisControl();
  base = await mkdtemp(path.join(os.tmpdir(), 'berth-redis-outage-'));
  const extra = [
    'redis:',
    `  addr: ${redis.addr}`,
    '  dialtimeout: 1s',
    'berth:',
    `  metadatattl: ${TTL_MS}ms`,
  ].join('\n');
  const yaml = defaultYaml({ extraYaml: extra })
    .replace('  delete:\n', '  cache:\n    blobdescriptor: redis\n  delete:\n')
    .replace('  addr: {{addr}}\n', '  addr: {{addr}}\n  secret: one-shared-secret\n');
  for (let i = 0; i < 3; i++) regs.push(await startRegistry({ yaml, base }));
});
after(async () => {
  for (const r of regs) await r.stop({ keep: true }).catch(() => undefined);
  await redis?.stop();
  await rm(base, { recursive: true, force: true });
});

const rel = (location: string) => {
  const u = new URL(location, 'http://x');
  return u.pathname + u.search;
};

async function image(reg: Registry, repo: string, note: string): Promise<{ manifest: Manifest; blobs: { digest: string; data: Buffer }[] }> {
  const config = imageConfig();
  const layer = blob(random(4096));
  await pushBlobs(reg, repo, [config, layer]);
  return { manifest: ociManifest({ config: config.descriptor, layers: [layer.descriptor], annotations: { note } }), blobs: [config, layer] };
}

/** The digest each instance serves for repo:tag (undefined for a 404). */
async function served(repo: string, tag: string): Promise<Array<string | undefined>> {
  return Promise.all(regs.map(async (r) => {
    const res = await getManifest(r, repo, tag);
    return res.status === 200 ? res.header('docker-content-digest') : undefined;
  }));
}

/** Waits until every instance serves `want` for repo:tag; returns how long that took. */
async function agree(repo: string, tag: string, want: string | undefined, boundMs: number): Promise<number> {
  const t0 = Date.now();
  await until(boundMs, `every instance serves ${want ?? 'nothing'} for ${repo}:${tag}`, async () => (await served(repo, tag)).every((d) => d === want), 50);
  return Date.now() - t0;
}

describe('redis outage (three instances, one storage root, one redis)', () => {
  it('keeps serving while redis is down, within the cache bound, and reconnects by itself', async () => {
    const [a, b, c] = regs as [Registry, Registry, Registry];
    const repo = repoName('redis');
    const one = await image(a, repo, 'one');
    await pushManifest(a, repo, 'stay', one.manifest);
    await pushManifest(a, repo, 'gone', one.manifest);
    assert.deepEqual(await served(repo, 'gone'), [one.manifest.digest, one.manifest.digest, one.manifest.digest]);

    await redis.kill();

    // Pushes go on: an upload started on A, continued on B, finished on C; a new tag; a tag moved; a tag deleted.
    const data = random(256 * 1024);
    const start = await within(REQUEST_BOUND_MS, startUpload(a, repo), 'POST on A');
    const patch = await within(REQUEST_BOUND_MS, b.req('PATCH', rel(start.location), { body: data.subarray(0, 1000), headers: { 'Content-Type': 'application/octet-stream', 'Content-Range': '0-999' } }), 'PATCH on B');
    assert.equal(patch.status, 202, patch.text());
    const put = await within(REQUEST_BOUND_MS, c.req('PUT', rel(withQuery(new URL(patch.header('location')!, c.url).toString(), { digest: digest(data) })), { body: data.subarray(1000), headers: { 'Content-Type': 'application/octet-stream', 'Content-Range': `1000-${data.length - 1}` } }), 'PUT on C');
    assert.equal(put.status, 201, put.text());
    for (const r of regs) {
      const got = await within(REQUEST_BOUND_MS, r.req('GET', `/v2/${repo}/blobs/${digest(data)}`), 'GET blob');
      assert.equal(digest(got.body), digest(data), `${r.url} serves the blob pushed during the outage`);
    }
    const two = await image(b, repo, 'two');
    await within(REQUEST_BOUND_MS, pushManifest(b, repo, 'new', two.manifest), 'PUT new tag on B');
    await within(REQUEST_BOUND_MS, pushManifest(c, repo, 'stay', two.manifest), 'PUT moving a tag on C');
    const del = await within(REQUEST_BOUND_MS, a.req('DELETE', `/v2/${repo}/manifests/gone`), 'DELETE of a tag on A');
    assert.equal(del.status, 202);
    // Without the bus, each instance sees the others' changes once its cache expires (TTL_MS).
    const slack = 5000; // a loaded machine's scheduling, not a second bound
    await agree(repo, 'new', two.manifest.digest, TTL_MS + slack);
    await agree(repo, 'stay', two.manifest.digest, TTL_MS + slack);
    await agree(repo, 'gone', undefined, TTL_MS + slack);
    for (const r of regs) {
      await until(TTL_MS + slack, `${r.url} lists the tags`, async () => {
        const tags = (await r.req('GET', `/v2/${repo}/tags/list`)).json().tags as string[];
        return tags.join(',') === 'new,stay';
      });
    }

    await redis.start();
    // Each instance holds two connections (commands, invalidation) and opens them again by itself.
    await until(30_000, 'the instances reconnect', async () => (await redis.clients()) >= 6, 200);
    // Subscriptions back: a change through one instance is served by the others at once, well inside TTL_MS.
    let checked = 0;
    for (const [writer, note] of [[a, 'three'], [b, 'four'], [c, 'five']] as const) {
      const next = await image(writer, repo, note);
      await served(repo, 'stay'); // every instance has just read (and cached) the tag
      const t0 = Date.now();
      await pushManifest(writer, repo, 'stay', next.manifest);
      const seen = await served(repo, 'stay');
      // Only a round that took less than the TTL proves anything (a slower one may have outlived the caches).
      if (Date.now() - t0 >= TTL_MS) continue;
      checked++;
      assert.deepEqual(seen, [next.manifest.digest, next.manifest.digest, next.manifest.digest], `a move through ${writer.url} is served by all at once`);
    }
    assert.ok(checked > 0, `no round finished within ${TTL_MS} ms`);
    const untag = await a.req('DELETE', `/v2/${repo}/manifests/new`);
    assert.equal(untag.status, 202);
    assert.deepEqual(await served(repo, 'new'), [undefined, undefined, undefined], 'a deleted tag is served by none at once');
  });
});
