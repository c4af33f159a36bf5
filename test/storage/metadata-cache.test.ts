import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { parseDigest } from '../../src/oci/digest.js';
import { MetadataCache, TtlCache, metadataKeys } from '../../src/storage/metadata-cache.js';

/** A load the test finishes when it wants, as a storage read that is still under way. */
function pending<T>(): { promise: Promise<T>; finish(value: T): void } {
  let finish!: (value: T) => void;
  const promise = new Promise<T>((resolve) => (finish = resolve));
  return { promise, finish };
}

describe('metadata cache (TtlCache)', () => {
  it('keeps what a load read, and shares one load between concurrent misses', async () => {
    const cache = new TtlCache<string>(60_000);
    const read = pending<string>();
    let loads = 0;
    const load = () => {
      loads++;
      return read.promise;
    };
    const first = cache.through('t:repo:v1', load);
    const second = cache.through('t:repo:v1', load);
    read.finish('sha256:aa');
    assert.equal(await first, 'sha256:aa');
    assert.equal(await second, 'sha256:aa');
    assert.equal(loads, 1);
    assert.equal(cache.get('t:repo:v1'), 'sha256:aa');
  });

  it('does not keep what a load read when its key is deleted while the load runs', async () => {
    const cache = new TtlCache<string>(60_000);
    const read = pending<string>();
    const loaded = cache.through('t:repo:v1', () => read.promise);
    cache.delete('t:repo:v1');
    read.finish('sha256:old');
    assert.equal(await loaded, 'sha256:old', 'the request that asked still gets its answer');
    assert.equal(cache.get('t:repo:v1'), undefined);
  });

  it('does not keep what a load read when a prefix of its key is dropped while the load runs', async () => {
    // A repository removed (its metadata dropped by prefix) must not come back from a read that
    // started before the removal.
    const cache = new TtlCache<string>(60_000);
    const read = pending<string>();
    const other = pending<string>();
    const loaded = cache.through('t:repo:v1', () => read.promise);
    const elsewhere = cache.through('t:repo2:v1', () => other.promise);
    cache.deletePrefix('t:repo:');
    read.finish('sha256:old');
    other.finish('sha256:kept');
    assert.equal(await loaded, 'sha256:old');
    await elsewhere;
    assert.equal(cache.get('t:repo:v1'), undefined, 'the dropped repository stays dropped');
    assert.equal(cache.get('t:repo2:v1'), 'sha256:kept', 'keys outside the prefix are kept');
  });

  it('does not keep what a load read when the whole cache is cleared while the load runs', async () => {
    const cache = new TtlCache<string>(60_000);
    const read = pending<string>();
    const loaded = cache.through('b:sha256:aa', () => read.promise);
    cache.clear();
    read.finish('12');
    await loaded;
    assert.equal(cache.get('b:sha256:aa'), undefined);
  });

  it('peeks at an entry past its ttl for the stale window, until a change or a read that finds it gone drops it', async () => {
    const cache = new TtlCache<string>(5, undefined, 60_000);
    cache.set('t:repo:v1', 'sha256:aa');
    cache.set('t:repo:v2', 'sha256:bb');
    cache.set('t:repo:v3', 'sha256:cc');
    await sleep(20);
    assert.equal(cache.get('t:repo:v1'), undefined, 'past the ttl, get() does not answer it');
    assert.deepEqual(cache.peek('t:repo:v1'), { value: 'sha256:aa', fresh: false }, 'peek does, marked stale');
    assert.equal(await cache.through('t:repo:v1', async () => 'sha256:a2'), 'sha256:a2', 'a read past the ttl reads storage');
    assert.equal(cache.peek('t:repo:v1')?.value, 'sha256:a2');
    cache.delete('t:repo:v2');
    assert.equal(cache.peek('t:repo:v2'), undefined, 'a change drops a stale entry too');
    assert.equal(await cache.through('t:repo:v3', async () => undefined), undefined);
    assert.equal(cache.peek('t:repo:v3'), undefined, 'gone from storage: no longer answered stale');
    cache.set('t:repo:v4', 'sha256:dd');
    cache.clear();
    assert.equal(cache.peek('t:repo:v4'), undefined);
  });

  it('without a stale window, or with caching off, peek answers only fresh entries', async () => {
    const long = new TtlCache<string>(60_000);
    long.set('t:repo:v1', 'sha256:aa');
    assert.deepEqual(long.peek('t:repo:v1'), { value: 'sha256:aa', fresh: true });
    const cache = new TtlCache<string>(5);
    cache.set('t:repo:v1', 'sha256:aa');
    await sleep(20);
    assert.equal(cache.peek('t:repo:v1'), undefined);
    const off = new TtlCache<string>(0, undefined, 60_000);
    off.set('t:repo:v1', 'sha256:aa');
    assert.equal(off.peek('t:repo:v1'), undefined);
  });
});

describe('metadata cache keys (metadataKeys)', () => {
  const digest = parseDigest(`sha256:${'a'.repeat(64)}`);

  it('gives back what was kept, typed by its key; a wrong value does not compile', () => {
    const meta = new MetadataCache(60_000);
    meta.set(metadataKeys.blobSize(digest), 12);
    meta.set(metadataKeys.tag('repo', 'v1'), digest.value);
    meta.set(metadataKeys.revision('repo', digest), true);
    const size: number | undefined = meta.get(metadataKeys.blobSize(digest));
    const target: string | undefined = meta.get(metadataKeys.tag('repo', 'v1'));
    assert.equal(size, 12);
    assert.equal(target, digest.value);
    assert.equal(meta.get(metadataKeys.revision('repo', digest)), true);
    assert.equal(meta.get(metadataKeys.layerLink('repo', digest)), undefined, 'a link is another key than a revision');
    // @ts-expect-error a blob size is a number
    meta.set(metadataKeys.blobSize(digest), '12');
    // @ts-expect-error keys come from metadataKeys, not from text
    meta.get('b:sha256:aa');
  });

  it('drops one repository\'s keys by its prefixes, not a nested one\'s or one whose name it begins', () => {
    const meta = new MetadataCache(60_000);
    const names = ['a', 'a/b', 'ab'];
    for (const name of names) {
      meta.set(metadataKeys.tag(name, 'v1'), digest.value);
      meta.set(metadataKeys.revision(name, digest), true);
      meta.set(metadataKeys.layerLink(name, digest), true);
    }
    meta.set(metadataKeys.blobSize(digest), 12);
    for (const prefix of metadataKeys.repositoryPrefixes('a')) meta.deletePrefix(prefix);
    const held = (name: string) => [metadataKeys.tag(name, 'v1'), metadataKeys.revision(name, digest), metadataKeys.layerLink(name, digest)].map((key) => meta.get<unknown>(key) !== undefined);
    assert.deepEqual(held('a'), [false, false, false]);
    assert.deepEqual(held('a/b'), [true, true, true], 'a nested repository keeps its keys');
    assert.deepEqual(held('ab'), [true, true, true]);
    for (const prefix of metadataKeys.nestedPrefixes('a')) meta.deletePrefix(prefix);
    assert.deepEqual(held('a/b'), [false, false, false], 'the nested prefixes drop it');
    assert.deepEqual(held('ab'), [true, true, true]);
    assert.equal(meta.get(metadataKeys.blobSize(digest)), 12, 'blob sizes are global');
  });
});
