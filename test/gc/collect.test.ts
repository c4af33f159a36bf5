/**
 * Garbage collection on a populated root pushed through the real HTTP server: exactly which
 * blobs and manifests remain, with and without --delete-untagged and --dry-run; the grace
 * period; an unreadable manifest stops the run before anything is deleted.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { cp, mkdtemp, rm, writeFile, mkdir, readdir } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { collectGarbage, GarbageCollectionError } from '../../src/gc/collector.js';
import { age, blobsOnDisk, populate, serve, type Populated, type Served } from './fixture.js';
import { assertPullable } from './pull.js';
import { digest } from '../helpers/content.js';

let template: string;
let fixture: Populated;

before(async () => {
  const s = await serve();
  fixture = await populate(s.reg);
  await s.stop({ keep: true });
  template = s.base;
});

after(async () => {
  await rm(template, { recursive: true, force: true });
});

/** A server on a private copy of the populated root. */
async function copy(): Promise<Served> {
  const base = await mkdtemp(path.join(os.tmpdir(), 'berth-gc-copy-'));
  await cp(template, base, { recursive: true, preserveTimestamps: true });
  const s = await serve({ base });
  return { ...s, stop: async () => { await s.server.close(); await rm(base, { recursive: true, force: true }); } };
}

function minus(a: Set<string>, ...bs: Set<string>[]): Set<string> {
  return new Set([...a].filter((x) => !bs.some((b) => b.has(x))));
}

async function assertTagsPullable(s: Served): Promise<void> {
  for (const [ref] of fixture.tags) {
    const [repo, tag] = ref.split(':') as [string, string];
    await assertPullable(s.reg, repo, tag);
  }
}

describe('garbage collection on a populated root', () => {
  it('--dry-run reports exactly the unreferenced blobs and deletes nothing', async () => {
    const s = await copy();
    try {
      const lines: string[] = [];
      const r = await collectGarbage(s.server.registry.driver, { dryRun: true, deleteUntagged: false, graceMs: 0, emit: (l) => lines.push(l), registry: s.server.registry });
      assert.deepEqual(new Set(r.blobsEligible), fixture.garbage);
      assert.deepEqual(r.manifestsEligible, []);
      assert.deepEqual(await blobsOnDisk(s.root), fixture.all);
      assert.ok(lines.includes(`\n${r.marked} blobs marked, ${fixture.garbage.size} blobs and 0 manifests eligible for deletion`), lines.join('\n'));
      for (const d of fixture.garbage) assert.ok(lines.includes(`blob eligible for deletion: ${d}`));
      assert.ok(lines.some((l) => /^app: marking manifest sha256:/.test(l)));
    } finally {
      await s.stop();
    }
  });

  it('deletes exactly the unreferenced blobs; every tag and every untagged manifest still pulls', async () => {
    const s = await copy();
    try {
      const r = await collectGarbage(s.server.registry.driver, { dryRun: false, deleteUntagged: false, graceMs: 0, registry: s.server.registry });
      assert.deepEqual(new Set(r.blobsDeleted), fixture.garbage);
      assert.deepEqual(await blobsOnDisk(s.root), minus(fixture.all, fixture.garbage));
      await assertTagsPullable(s);
      for (const m of [...fixture.untaggedManifests, ...fixture.keptUntagged]) {
        const [repo, d] = m.split('@') as [string, string];
        await assertPullable(s.reg, repo, d);
      }
      // A second run finds nothing more.
      const again = await collectGarbage(s.server.registry.driver, { dryRun: false, deleteUntagged: false, graceMs: 0, registry: s.server.registry });
      assert.deepEqual(again.blobsEligible, []);
    } finally {
      await s.stop();
    }
  });

  it('--delete-untagged --dry-run lists the untagged manifests that go, and deletes nothing', async () => {
    const s = await copy();
    try {
      const r = await collectGarbage(s.server.registry.driver, { dryRun: true, deleteUntagged: true, graceMs: 0, registry: s.server.registry });
      assert.deepEqual(new Set(r.manifestsEligible), fixture.untaggedManifests);
      assert.deepEqual(new Set(r.blobsEligible), new Set([...fixture.garbage, ...fixture.untaggedGarbage]));
      assert.deepEqual(await blobsOnDisk(s.root), fixture.all);
    } finally {
      await s.stop();
    }
  });

  it('--delete-untagged keeps children of tagged indexes and referrers of live subjects, and removes the rest', async () => {
    const s = await copy();
    try {
      const r = await collectGarbage(s.server.registry.driver, { dryRun: false, deleteUntagged: true, graceMs: 0, registry: s.server.registry });
      assert.deepEqual(new Set(r.manifestsDeleted), fixture.untaggedManifests);
      assert.deepEqual(new Set(r.blobsDeleted), new Set([...fixture.garbage, ...fixture.untaggedGarbage]));
      assert.deepEqual(await blobsOnDisk(s.root), minus(fixture.all, fixture.garbage, fixture.untaggedGarbage));
      await assertTagsPullable(s);
      for (const m of fixture.keptUntagged) {
        const [repo, d] = m.split('@') as [string, string];
        await assertPullable(s.reg, repo, d);
      }
      for (const m of fixture.untaggedManifests) {
        const [repo, d] = m.split('@') as [string, string];
        assert.equal((await s.reg.req('GET', `/v2/${repo}/manifests/${d}`)).status, 404, `${m} is gone`);
      }
      // The signature and the SBOM are still listed as referrers.
      const index = fixture.tags.get('app:v1')!;
      const refs = (await s.reg.req('GET', `/v2/app/referrers/${index}`)).json() as { manifests: unknown[] };
      assert.equal(refs.manifests.length, 1);
      // The moved tag's history no longer names the deleted manifest.
      const history = await readdir(path.join(s.root, 'docker/registry/v2/repositories/app/_manifests/tags/latest/index/sha256'));
      assert.deepEqual(history.map((h) => `sha256:${h}`), [fixture.tags.get('app:latest')]);
    } finally {
      await s.stop();
    }
  });

  it('keeps unreferenced blobs younger than the grace period, and deletes them once old', async () => {
    const s = await copy();
    try {
      const young = await collectGarbage(s.server.registry.driver, { dryRun: false, deleteUntagged: true, graceMs: 3600_000, registry: s.server.registry });
      assert.deepEqual(young.blobsDeleted, []);
      assert.deepEqual(young.manifestsDeleted, []);
      assert.equal(young.keptYoung, fixture.garbage.size);
      assert.deepEqual(await blobsOnDisk(s.root), fixture.all);
      await age(s.root, 2 * 3600_000);
      const old = await collectGarbage(s.server.registry.driver, { dryRun: false, deleteUntagged: true, graceMs: 3600_000, registry: s.server.registry });
      assert.deepEqual(new Set(old.blobsDeleted), new Set([...fixture.garbage, ...fixture.untaggedGarbage]));
      await assertTagsPullable(s);
    } finally {
      await s.stop();
    }
  });

  it('stops before deleting anything when a manifest cannot be read', async () => {
    const s = await copy();
    try {
      const junk = Buffer.from('not a manifest');
      const d = digest(junk);
      const hex = d.slice('sha256:'.length);
      const v2 = path.join(s.root, 'docker/registry/v2');
      await mkdir(path.join(v2, 'blobs/sha256', hex.slice(0, 2), hex), { recursive: true });
      await writeFile(path.join(v2, 'blobs/sha256', hex.slice(0, 2), hex, 'data'), junk);
      await mkdir(path.join(v2, 'repositories/lib/_manifests/revisions/sha256', hex), { recursive: true });
      await writeFile(path.join(v2, 'repositories/lib/_manifests/revisions/sha256', hex, 'link'), d);
      await assert.rejects(
        collectGarbage(s.server.registry.driver, { dryRun: false, deleteUntagged: false, graceMs: 0 }),
        (err: unknown) => err instanceof GarbageCollectionError && err.message.includes(d),
      );
      assert.deepEqual(await blobsOnDisk(s.root), new Set([...fixture.all, d]));
    } finally {
      await s.stop();
    }
  });
});
