import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { EarlyPages } from '../../src/storage/listing/early-pages.js';
import { KeptList } from '../../src/storage/listing/kept-list.js';
import { withName } from '../../src/storage/listing/sorted.js';
import { LruCache } from '../../src/storage/lru.js';

/** A load whose completion the test controls, counting how often it ran. */
function controlledLoad(values: string[][]) {
  const waiting: Array<() => void> = [];
  let calls = 0;
  return {
    load: () => {
      const value = values[Math.min(calls, values.length - 1)]!;
      calls++;
      return new Promise<string[]>((resolve) => waiting.push(() => resolve(value)));
    },
    finish: () => waiting.shift()!(),
    get calls() {
      return calls;
    },
    get waiting() {
      return waiting.length;
    },
  };
}

const tick = () => new Promise((r) => setImmediate(r));

describe('kept listings (KeptList)', () => {
  it('replays a change made while a load ran onto its result, so the load does not undo it', async () => {
    const l = controlledLoad([['a', 'c']]);
    const kept = new KeptList({ load: l.load, ttlMs: 60_000, staleMs: 60_000 });
    const first = kept.get();
    kept.update((names) => withName(names, 'b'));
    l.finish();
    assert.deepEqual(await first, ['a', 'b', 'c']);
    assert.deepEqual(await kept.get(), ['a', 'b', 'c']);
    assert.equal(l.calls, 1);
  });

  it('answers the saved list at once, loads behind it, then answers the load', async () => {
    const l = controlledLoad([['fresh']]);
    const kept = new KeptList({ load: l.load, ttlMs: 60_000, staleMs: 60_000, startFrom: async () => ['saved'] });
    assert.deepEqual(await kept.get(), ['saved']);
    await tick();
    assert.equal(l.waiting, 1, 'a load runs behind the saved list');
    kept.update((names) => withName(names, 'made-meanwhile'));
    l.finish();
    await tick();
    assert.deepEqual(await kept.get(), ['fresh', 'made-meanwhile']);
    assert.equal(l.calls, 1);
  });

  it('replays changes made before anything was kept onto the saved list, which may predate them', async () => {
    const l = controlledLoad([['a', 'fresh']]);
    const kept = new KeptList({ load: l.load, ttlMs: 60_000, staleMs: 60_000, startFrom: async () => ['a', 'gone'] });
    kept.update((names) => withName(names, 'b'));
    kept.update((names) => names.filter((n) => n !== 'gone'));
    assert.deepEqual(await kept.get(), ['a', 'b']);
  });

  it('after too many changes before anything was kept, waits for the load instead of the saved list', async () => {
    const l = controlledLoad([['loaded']]);
    const kept = new KeptList({ load: l.load, ttlMs: 60_000, staleMs: 60_000, startFrom: async () => ['saved'] });
    for (let i = 0; i < 65; i++) kept.update((names) => withName(names, `n${i}`));
    const got = kept.get();
    await tick();
    l.finish();
    assert.deepEqual(await got, ['loaded']);
  });

  it('waits for the load when there is no saved list', async () => {
    const l = controlledLoad([['x']]);
    const kept = new KeptList({ load: l.load, ttlMs: 60_000, staleMs: 60_000, startFrom: async () => undefined });
    const got = kept.get();
    await tick();
    l.finish();
    assert.deepEqual(await got, ['x']);
  });

  it('does not use the saved list when caching is off', async () => {
    const l = controlledLoad([['x'], ['y']]);
    const kept = new KeptList({ load: l.load, ttlMs: 0, staleMs: 0, startFrom: async () => ['saved'] });
    const got = kept.get();
    await tick();
    l.finish();
    assert.deepEqual(await got, ['x']);
    const again = kept.get();
    l.finish();
    assert.deepEqual(await again, ['y'], 'every get loads');
  });

  it('after expire answers the kept value once more and reloads behind it', async () => {
    const l = controlledLoad([['old'], ['new']]);
    const kept = new KeptList({ load: l.load, ttlMs: 60_000, staleMs: 60_000 });
    const first = kept.get();
    l.finish();
    assert.deepEqual(await first, ['old']);
    kept.expire();
    assert.deepEqual(await kept.get(), ['old']);
    assert.equal(l.waiting, 0, 'the reload starts after the answer');
    await tick();
    assert.equal(l.waiting, 1);
    l.finish();
    await tick();
    assert.deepEqual(await kept.get(), ['new']);
  });
});

describe('early pages (EarlyPages)', () => {
  const never = new Promise<string[]>(() => undefined);

  it('answers a waiting page once a load has shown it for certain, not before', async () => {
    const pages = new EarlyPages();
    let answered: string[] | undefined;
    void pages.wait(never, { after: 'a', count: 2 }).then((v) => (answered = v));
    pages.progress(['b'], () => true);
    await tick();
    assert.equal(answered, undefined, 'one name after "a" is not a page of two');
    pages.progress(['c', 'b', 'd'], (name) => name <= 'b');
    await tick();
    assert.equal(answered, undefined, 'the page ends at "c", not yet certain');
    pages.progress(['c', 'b', 'd'], (name) => name <= 'c');
    await tick();
    assert.deepEqual(answered, ['b', 'c', 'd']);
  });

  it('answers a page asked for between two pages of a load from what it showed', async () => {
    const pages = new EarlyPages();
    pages.progress(['y', 'x', 'z'], () => true);
    assert.deepEqual(await pages.wait(never, { after: '', count: 2 }), ['x', 'y', 'z']);
  });

  it('after the load ends, what it showed no longer answers: the complete listing does', async () => {
    const pages = new EarlyPages();
    pages.progress(['old'], () => true);
    pages.clear();
    assert.deepEqual(await pages.wait(Promise.resolve(['new', 'old']), { after: '', count: 1 }), ['new', 'old']);
  });
});

describe('LruCache', () => {
  it('evicts the least recently used entry, not one read since', () => {
    const lru = new LruCache<number>(4);
    for (const [i, k] of ['a', 'b', 'c', 'd'].entries()) lru.set(k, i);
    assert.equal(lru.get('a'), 0);
    lru.set('e', 4);
    assert.equal(lru.get('b'), undefined, 'b was the oldest');
    assert.equal(lru.get('a'), 0, 'a was read after b was written');
  });

  it('keeps entries read often while many others come and go', () => {
    const lru = new LruCache<number>(100);
    for (let i = 0; i < 5000; i++) {
      lru.set(`k${i}`, i);
      assert.equal(lru.get('hot'), i === 0 ? undefined : 0, `round ${i}`);
      if (i === 0) lru.set('hot', 0);
    }
    assert.equal(lru.size, 100);
  });

  it('bounds the total weight and refuses entries above a tenth of it', () => {
    const lru = new LruCache<Buffer>(100, (b) => b.length);
    lru.set('big', Buffer.alloc(11));
    assert.equal(lru.get('big'), undefined);
    for (let i = 0; i < 20; i++) lru.set(`b${i}`, Buffer.alloc(10));
    assert.equal(lru.size, 10);
    assert.ok(lru.get('b19') && !lru.get('b9'));
  });
});
