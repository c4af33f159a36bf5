// The Recorder: pulls and pushes noted in memory, written in batches when the clock says so.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { pino } from 'pino';
import { parseDigest } from '../../src/oci/digest.js';
import { Recorder } from '../../src/policy/records/recorder.js';
import { StorageRecords } from '../../src/policy/records/storage-records.js';
import type { RecordDelta, RecordStore } from '../../src/policy/records/store.js';
import { createDriver } from '../../src/storage/driver/factory.js';
import { ManualClock } from '../helpers/clock.js';

const D1 = parseDigest(`sha256:${'1'.repeat(64)}`);
const D2 = parseDigest(`sha256:${'2'.repeat(64)}`);
const log = pino({ level: 'silent' });

/** A store that counts its calls and can be made to fail. */
class Watched implements RecordStore {
  merges: Array<{ name: string; deltas: Map<string, RecordDelta> }> = [];
  reads = 0;
  failing = false;
  constructor(private readonly inner: RecordStore) {}
  async merge(name: string, deltas: ReadonlyMap<string, RecordDelta>) {
    if (this.failing) throw new Error('store down');
    this.merges.push({ name, deltas: new Map([...deltas].map(([k, v]) => [k, { ...v }])) });
    await this.inner.merge(name, deltas);
  }
  async read(name: string) {
    this.reads++;
    return this.inner.read(name);
  }
  forget(name: string, digests?: readonly string[]) {
    return this.inner.forget(name, digests);
  }
}

async function recorder() {
  const clock = new ManualClock(Date.parse('2025-06-01T00:00:00Z'));
  const store = new Watched(new StorageRecords(await createDriver('inmemory', {})));
  return { clock, store, rec: new Recorder(store, clock, log) };
}

describe('Recorder', () => {
  it('notes pulls and pushes in memory only, and writes them every 10 s as one batch per repository', async () => {
    const { clock, store, rec } = await recorder();
    const t0 = clock.now();
    rec.pushed('team/app', D1);
    for (let i = 0; i < 1000; i++) rec.pulled('team/app', D1);
    rec.pulled('team/app', D2);
    rec.pulled('other', D1);
    assert.equal(store.merges.length, 0, 'nothing written on the pull path');
    assert.equal(store.reads, 0);
    // Reads see this process's notes before they are written.
    assert.deepEqual((await rec.read('team/app')).get(D1.value), { pushed: t0, pulled: t0, pulls: 1000 });

    clock.advance(9_999);
    await rec.settled();
    assert.equal(store.merges.length, 0);
    clock.advance(1);
    await rec.settled();
    assert.deepEqual(store.merges.map((m) => m.name).sort(), ['other', 'team/app']);
    assert.deepEqual(store.merges.find((m) => m.name === 'team/app')!.deltas.get(D1.value), { pushed: t0, pulled: t0, pulls: 1000 });
    assert.deepEqual((await store.read('team/app')).get(D2.value), { pushed: null, pulled: t0, pulls: 1 });

    // The next batch carries only what happened since.
    clock.advance(5_000);
    rec.pulled('team/app', D1);
    clock.advance(5_000);
    await rec.settled();
    assert.equal(store.merges.length, 3);
    assert.deepEqual(store.merges[2]!.deltas.get(D1.value), { pushed: null, pulled: t0 + 15_000, pulls: 1 });
    assert.deepEqual((await rec.read('team/app')).get(D1.value), { pushed: t0, pulled: t0 + 15_000, pulls: 1001 });
    await rec.close();
    assert.equal(clock.pending, 0, 'the timer is stopped');
  });

  it('keeps a batch the store refused and writes it with the next one', async () => {
    const { clock, store, rec } = await recorder();
    rec.pulled('team/app', D1);
    store.failing = true;
    clock.advance(10_000);
    await rec.settled();
    assert.equal(store.merges.length, 0);
    rec.pulled('team/app', D1);
    assert.equal((await rec.read('team/app')).get(D1.value)?.pulls, 2, 'nothing lost meanwhile');
    store.failing = false;
    await rec.close();
    assert.deepEqual((await store.read('team/app')).get(D1.value)?.pulls, 2);
  });

  it('writes what is left at shutdown, and forgets a deleted repository', async () => {
    const { store, rec } = await recorder();
    rec.pulled('gone/soon', D1);
    rec.pulled('stays', D1);
    await rec.close();
    assert.equal((await store.read('gone/soon')).get(D1.value)?.pulls, 1);
    await rec.forget('gone/soon');
    assert.equal((await store.read('gone/soon')).size, 0);
    assert.equal((await store.read('stays')).size, 1);
  });

  it('in read-only mode keeps records in memory and writes nothing', async () => {
    const clock = new ManualClock();
    const store = new Watched(new StorageRecords(await createDriver('inmemory', {})));
    const rec = new Recorder(store, clock, log, { persist: false });
    rec.pulled('team/app', D1);
    clock.advance(60_000);
    await rec.close();
    assert.equal(store.merges.length, 0);
    assert.equal((await rec.read('team/app')).get(D1.value)?.pulls, 1);
  });
});
