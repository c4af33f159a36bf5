import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { BlobGuard, type GuardPeers } from '../../src/storage/blob-guard.js';

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
