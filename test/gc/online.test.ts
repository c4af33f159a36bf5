/**
 * Garbage collection while the server takes pushes and pulls, no read-only window. The hard case
 * is content that is old and unreferenced when a run marks, and that a client re-uses during the
 * run: a HEAD finds it through a stale link and the client skips the upload, or a mount links it
 * into another repository. Repeated runs (grace period 60 s, old garbage aged two hours) must
 * delete real garbage and lose nothing any push or pull relied on.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { collectGarbage } from '../../src/gc/collector.js';
import { age, blobsOnDisk, serve, type Served } from './fixture.js';
import { assertPullable } from './pull.js';
import { blob, imageConfig, ociIndex, ociManifest, random, withPlatform, type Blob } from '../helpers/content.js';
import { pushBlob, pushBlobs, pushManifest, startUpload } from '../helpers/push.js';

/** Pushes a blob the way a client does: skip when the repository already answers HEAD 200. */
async function ensureBlob(s: Served, repo: string, b: Blob): Promise<void> {
  const head = await s.reg.req('HEAD', `/v2/${repo}/blobs/${b.digest}`);
  if (head.status === 200) return;
  await pushBlob(s.reg, repo, b.data, b.digest);
}

/** Cross-repository mount; falls back to a plain upload when the registry no longer has it. */
async function mountOrPush(s: Served, repo: string, from: string, b: Blob): Promise<void> {
  const res = await s.reg.req('POST', `/v2/${repo}/blobs/uploads/?mount=${b.digest}&from=${from}`);
  if (res.status === 201) return;
  assert.equal(res.status, 202);
  const { location } = await startUpload(s.reg, repo);
  const put = await s.reg.req('PUT', `${location}${location.includes('?') ? '&' : '?'}digest=${b.digest}`, { body: b.data });
  assert.equal(put.status, 201);
}

describe('garbage collection while serving', () => {
  it('repeated runs during concurrent pushes, mounts and pulls lose nothing', async () => {
    const s = await serve({ extraYaml: 'berth:\n  gc:\n    enabled: true\n    interval: 24h\n    grace: 60s\n' });
    try {
      // Old garbage: images whose manifests were deleted (their layers keep stale links in "old").
      const orphans: Blob[] = [];
      for (let i = 0; i < 5; i++) {
        const cfg = imageConfig();
        const layer = blob(random(400));
        await pushBlobs(s.reg, 'old', [cfg, layer]);
        const m = ociManifest({ config: cfg.descriptor, layers: [layer.descriptor] });
        await pushManifest(s.reg, 'old', m.digest, m);
        assert.equal((await s.reg.req('DELETE', `/v2/old/manifests/${m.digest}`)).status, 202);
        orphans.push(layer);
      }
      // Live images, to be pulled throughout.
      const live: string[] = [];
      for (let i = 0; i < 2; i++) {
        const cfg = imageConfig();
        const layer = blob(random(500));
        await pushBlobs(s.reg, 'live', [cfg, layer]);
        await pushManifest(s.reg, 'live', `t${i}`, ociManifest({ config: cfg.descriptor, layers: [layer.descriptor] }));
        live.push(`t${i}`);
      }
      await age(path.join(s.root, 'docker/registry/v2'), 2 * 3600_000);
      // …and the server's memory of having used them is two hours old too.
      s.server.registry.blobs.guard.prune(Date.now() + 2 * 3600_000);
      const before = await blobsOnDisk(s.root);

      let stop = false;
      const pushed: Array<{ repo: string; tag: string }> = [];
      const pusher = async (n: number) => {
        for (let i = 0; !stop || i < 3; i++) {
          const repo = n === 0 ? 'old' : 'fresh';
          const reused = orphans[(n * 7 + i) % orphans.length]!;
          const cfg = imageConfig();
          const own = blob(random(300));
          if (n === 0) await ensureBlob(s, repo, reused); // HEAD through the stale link in "old"
          else await mountOrPush(s, repo, 'old', reused); // mount from "old"
          await pushBlobs(s.reg, repo, [cfg, own]);
          const m = ociManifest({ config: cfg.descriptor, layers: [reused.descriptor, own.descriptor] });
          // Multi-arch shape: the child goes up untagged first, then the tagged index.
          await pushManifest(s.reg, repo, m.digest, m);
          const idx = ociIndex({ manifests: [withPlatform(m.descriptor, 'amd64')] });
          await pushManifest(s.reg, repo, `p${n}-${i}`, idx);
          pushed.push({ repo, tag: `p${n}-${i}` });
          if (i > 15) break;
        }
      };
      const puller = async () => {
        while (!stop) for (const tag of live) await assertPullable(s.reg, 'live', tag);
      };
      const runs: Array<Awaited<ReturnType<typeof collectGarbage>>> = [];
      const collector = async () => {
        for (let i = 0; i < 5; i++) {
          runs.push(await collectGarbage(s.server.registry.driver, { dryRun: false, deleteUntagged: i % 2 === 1, graceMs: 60_000, registry: s.server.registry }));
        }
        stop = true;
      };
      await Promise.all([pusher(0), pusher(1), puller(), collector()]);

      // One more run after the dust settles, then everything pushed or live must pull completely.
      runs.push(await collectGarbage(s.server.registry.driver, { dryRun: false, deleteUntagged: true, graceMs: 60_000, registry: s.server.registry }));
      for (const { repo, tag } of pushed) await assertPullable(s.reg, repo, tag);
      for (const tag of live) await assertPullable(s.reg, 'live', tag);
      assert.ok(pushed.length >= 6, `pushes happened during the runs (${pushed.length})`);
      // The runs did real work: the deleted "old" manifests' blobs that nobody re-used are gone.
      const deleted = new Set(runs.flatMap((r) => r.blobsDeleted));
      assert.ok(deleted.size > 0, 'some garbage was collected');
      for (const d of deleted) assert.ok(before.has(d), `only old content was deleted (${d})`);
    } finally {
      await s.stop();
    }
  });
});
