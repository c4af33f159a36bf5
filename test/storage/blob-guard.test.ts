import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Readable } from 'node:stream';
import { digestOf } from '../../src/oci/digest.js';
import { BlobGuard, type GuardPeers } from '../../src/storage/blob-guard.js';
import { createDriver } from '../../src/storage/driver/factory.js';
import type { LocalRepository } from '../../src/storage/local-repository.js';
import { Registry } from '../../src/storage/registry.js';

/** Two workers' guards joined as the primary joins them (src/cluster/primary.ts), here without the IPC in between. */
function pair(): { collector: BlobGuard; server: BlobGuard } {
  const collector = new BlobGuard();
  const server = new BlobGuard();
  for (const g of [collector, server]) g.retentionMs = 60_000;
  const peers: GuardPeers = {
    uses: async (since) => server.usesSince(since),
    claim: async (digest, since) => server.claimForPeer(digest, since),
    release: (digest) => server.releaseForPeer(digest),
  };
  collector.peers = peers;
  return { collector, server };
}

describe('BlobGuard across workers', () => {
  it('keeps a digest another worker used since the cutoff', async () => {
    const { collector, server } = pair();
    const since = Date.now() - 1000;
    void server.use('sha256:a');
    let removed = false;
    assert.equal(await collector.deleting('sha256:a', since, async () => (removed = true)), false);
    assert.equal(removed, false);
    // Before marking, the collector takes in the other worker's uses.
    assert.equal(collector.usedSince('sha256:a', since), false);
    await collector.refresh(since);
    assert.equal(collector.usedSince('sha256:a', since), true);
  });

  it('holds a digest in the other worker while it is deleted: a use there waits for the deletion', async () => {
    const { collector, server } = pair();
    let finish!: () => void;
    const deleting = collector.deleting('sha256:b', Date.now(), () => new Promise<boolean>((resolve) => (finish = () => resolve(true))));
    await new Promise((r) => setImmediate(r));
    const waiting = server.use('sha256:b');
    assert.ok(waiting, 'the use waits');
    let settled = false;
    void waiting.then(() => (settled = true));
    await new Promise((r) => setImmediate(r));
    assert.equal(settled, false);
    finish();
    assert.equal(await deleting, true);
    await waiting;
    assert.equal(server.use('sha256:b'), undefined, 'released everywhere');
  });

  it('gives back its own claim when another worker refuses', async () => {
    const { collector, server } = pair();
    void server.use('sha256:c');
    assert.equal(await collector.deleting('sha256:c', Date.now() - 1000, async () => true), false);
    assert.equal(collector.use('sha256:c'), undefined, 'nothing left held here');
  });
});

describe('the cached reads and a deletion in progress', () => {
  it('answer nothing while the digest is being deleted, so the pull waits it out; as before once it is not', async () => {
    const registry = new Registry(await createDriver('inmemory', {}), { policy: { skipReferenceChecks: false, urlsAllow: [], urlsDeny: [] }, metadataTtlMs: 60_000 });
    const repo = registry.repository('team/app') as LocalRepository;
    const layer = Buffer.from('a layer');
    const layerDigest = digestOf(layer);
    await repo.uploads.putWhole(layerDigest, Readable.from([layer]));
    const manifest = Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: 'application/vnd.oci.image.manifest.v1+json', config: { mediaType: 'application/vnd.oci.empty.v1+json', digest: layerDigest.value, size: layer.length }, layers: [] }));
    const { digest } = await repo.manifests.put(manifest, 'application/vnd.oci.image.manifest.v1+json', { tag: 'v1' });
    // The pull's reads fill the caches.
    await repo.manifests.get(digest);
    await repo.blobs.stat(layerDigest);
    assert.ok(repo.manifests.cached(digest)?.content.equals(manifest));
    assert.equal(repo.blobs.cachedStat(layerDigest)?.size, layer.length);

    const finishes: Array<() => void> = [];
    const guard = registry.blobs.guard;
    // Deletions that remove nothing in the end, held open until `finish`.
    const deletions = [digest, layerDigest].map((d) => guard.deleting(d.value, Date.now() + 1000, () => new Promise<boolean>((resolve) => finishes.push(() => resolve(false)))));
    assert.equal(repo.manifests.cached(digest), undefined);
    assert.equal(repo.manifests.cachedStat(digest), undefined);
    assert.equal(repo.blobs.cachedStat(layerDigest), undefined);
    for (const finish of finishes) finish();
    await Promise.all(deletions);
    assert.ok(repo.manifests.cached(digest)?.content.equals(manifest));
    assert.equal(repo.blobs.cachedStat(layerDigest)?.size, layer.length);
  });
});
