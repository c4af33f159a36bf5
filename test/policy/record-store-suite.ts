// The one test suite every RecordStore runs (storage beside the layout, Redis).
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { RecordStore } from '../../src/policy/records/store.js';

const A = `sha256:${'a'.repeat(64)}`;
const B = `sha256:${'b'.repeat(64)}`;
const T0 = Date.parse('2025-01-01T00:00:00Z');

/**
 * `atomic`: the store merges concurrent batches without losing any (Redis); a store that is not
 * is written one batch at a time by its process's one Recorder, and is checked that way.
 */
export function runRecordStoreSuite(label: string, open: () => Promise<{ store: RecordStore; atomic: boolean; close(): Promise<void> }>): void {
  describe(`record store: ${label}`, () => {
    let store: RecordStore;
    let close: () => Promise<void>;
    let atomic = false;
    before(async () => {
      ({ store, close, atomic } = await open());
    });
    after(async () => {
      await close?.();
    });

    it('reads nothing for a repository without records', async () => {
      assert.deepEqual([...(await store.read('none/here'))], []);
    });

    it('merges: times move only forward, pull counts add up', async () => {
      await store.merge('team/app', new Map([[A, { pushed: T0, pulled: null, pulls: 0 }]]));
      await store.merge('team/app', new Map([[A, { pushed: null, pulled: T0 + 5_000, pulls: 3 }], [B, { pushed: T0 + 1, pulled: T0 + 2, pulls: 1 }]]));
      // An older time (a late batch from another instance) does not move a time back.
      await store.merge('team/app', new Map([[A, { pushed: T0 - 1_000, pulled: T0 + 1_000, pulls: 2 }]]));
      const read = await store.read('team/app');
      assert.deepEqual(read.get(A), { pushed: T0, pulled: T0 + 5_000, pulls: 5 });
      assert.deepEqual(read.get(B), { pushed: T0 + 1, pulled: T0 + 2, pulls: 1 });
    });

    it('keeps repositories apart, nested names included', async () => {
      await store.merge('team', new Map([[A, { pushed: T0, pulled: null, pulls: 0 }]]));
      await store.merge('team/app/deep', new Map([[A, { pushed: null, pulled: T0, pulls: 7 }]]));
      assert.deepEqual((await store.read('team')).get(A), { pushed: T0, pulled: null, pulls: 0 });
      assert.deepEqual((await store.read('team/app/deep')).get(A), { pushed: null, pulled: T0, pulls: 7 });
      assert.equal((await store.read('team/app')).get(A)?.pulls, 5);
    });

    it('forgets some digests, or a whole repository', async () => {
      await store.forget('team/app', [A]);
      assert.deepEqual([...(await store.read('team/app')).keys()], [B]);
      await store.forget('team/app');
      assert.equal((await store.read('team/app')).size, 0);
      assert.equal((await store.read('team')).size, 1, 'another repository keeps its records');
      await store.forget('never/recorded');
    });

    it('loses no pulls over many batches (at once, where the store merges atomically)', async () => {
      const batch = (i: number) => store.merge('busy/repo', new Map([[A, { pushed: null, pulled: T0 + i, pulls: 1 }]]));
      if (atomic) await Promise.all(Array.from({ length: 10 }, (_, i) => batch(i)));
      else for (let i = 0; i < 10; i++) await batch(i);
      assert.deepEqual((await store.read('busy/repo')).get(A), { pushed: null, pulled: T0 + 9, pulls: 10 });
    });
  });
}
