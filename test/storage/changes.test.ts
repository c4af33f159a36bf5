import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { digestOf } from '../../src/oci/digest.js';
import type { StorageChange } from '../../src/storage/changes.js';
import { createDriver } from '../../src/storage/driver/factory.js';
import { Registry } from '../../src/storage/registry.js';

const policy = { skipReferenceChecks: true, urlsAllow: [], urlsDeny: [] };

/** An OCI manifest with no blobs (reference checks are off): enough to make a repository and tag it. */
function manifest(n: number): Buffer {
  return Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: 'application/vnd.oci.image.manifest.v1+json', config: { mediaType: 'application/vnd.oci.empty.v1+json', digest: digestOf(Buffer.from(`${n}`)).value, size: 1 }, layers: [] }));
}

/**
 * Two registries on one store, as two processes: A's writes reach B only as the put/delete
 * messages A's driver reports, carried here by a plain function instead of Redis. Whatever
 * carries them, B's kept listings and metadata must end where A's are.
 */
async function pair() {
  const store = await createDriver('inmemory', {});
  const carried: StorageChange[][] = [];
  let b: Registry | undefined;
  const a = new Registry(store, {
    policy,
    metadataTtlMs: 60_000,
    announce: async (changes) => {
      carried.push(changes);
      b?.changes.apply(changes, 'remote');
    },
  });
  b = new Registry(store, { policy, metadataTtlMs: 60_000 });
  return { a, b, carried };
}

describe('storage changes (one entry point for every carrier)', () => {
  it('a write here, and the same messages applied elsewhere, leave both processes with the same catalog and tags', async () => {
    const { a, b } = await pair();
    // Both processes keep their listings from the start, so nothing but the messages can update B's.
    assert.deepEqual(await a.catalog(), []);
    assert.deepEqual(await b.catalog(), []);
    assert.deepEqual(await b.repository('team/app').tags.list(), []);

    const app = a.repository('team/app');
    await app.manifests.put(manifest(1), undefined, { tag: 'v1' });
    await app.manifests.put(manifest(2), undefined, { tag: 'v2' });
    await a.repository('team/other').manifests.put(manifest(3), undefined, { tag: 'latest' });
    for (const r of [a, b]) {
      assert.deepEqual(await r.catalog(), ['team/app', 'team/other']);
      assert.deepEqual(await r.repository('team/app').tags.list(), ['v1', 'v2']);
    }

    assert.equal(await app.tags.untag('v1'), true);
    assert.deepEqual(await b.repository('team/app').tags.list(), ['v2']);
    assert.equal(await a.repository('team/other').delete(), true);
    for (const r of [a, b]) {
      assert.deepEqual(await r.catalog(), ['team/app']);
      assert.deepEqual(await r.repository('team/app').tags.list(), ['v2']);
    }
  });

  it('a stored blob is not announced, and is found elsewhere at once; its delete is announced', async () => {
    const { a, b, carried } = await pair();
    const content = Buffer.from('a layer');
    const digest = digestOf(content);
    assert.equal(await b.blobs.stat(digest), undefined, 'B looked for it before');
    await a.blobs.putContent(digest, content);
    assert.equal(carried.length, 0, 'nothing carried for the blob itself');
    assert.equal((await b.blobs.stat(digest))?.size, content.length, 'B kept no absence: it reads the blob');
    await a.blobs.delete(digest);
    assert.deepEqual(carried.flat().map((c) => c.op), ['delete'], "the blob's delete is carried");
    assert.equal(await b.blobs.stat(digest), undefined, 'B forgets it');
  });

  for (const quotas of [false, true]) {
    it(`a layer link written is ${quotas ? '' : 'not '}announced ${quotas ? 'with' : 'without'} quotas, and is found elsewhere at once; its delete is announced`, async () => {
      const store = await createDriver('inmemory', {});
      const carried: StorageChange[] = [];
      const b = new Registry(store, { policy, metadataTtlMs: 60_000 });
      const a = new Registry(store, { policy, metadataTtlMs: 60_000, quotas, announce: async (changes) => (carried.push(...changes), b.changes.apply(changes, 'remote')) });
      const content = Buffer.from('a layer');
      const digest = digestOf(content);
      assert.equal(await b.repository('r').blobs.stat(digest), undefined, 'B looked for it before');
      await a.blobs.putContent(digest, content);
      await a.localRepository('r').blobs.link(digest, content.length);
      const linkPuts = carried.filter((c) => c.op === 'put' && c.path.includes('/_layers/'));
      assert.equal(linkPuts.length, quotas ? 1 : 0);
      assert.equal((await b.repository('r').blobs.stat(digest))?.size, content.length, 'B kept no absence: it reads the link');
      assert.equal(await a.repository('r').blobs.unlink(digest), true);
      assert.ok(carried.some((c) => c.op === 'delete' && c.path.includes('/_layers/')), "the link's delete is carried");
      assert.equal(await b.repository('r').blobs.stat(digest), undefined, 'B forgets it');
    });
  }

  it('a moved tag is resolved anew everywhere: the message drops the cached target', async () => {
    const { a, b } = await pair();
    const first = await a.repository('r').manifests.put(manifest(1), undefined, { tag: 't' });
    assert.equal((await b.repository('r').tags.resolve('t'))?.value, first.digest.value, 'B caches the target');
    const second = await a.repository('r').manifests.put(manifest(2), undefined, { tag: 't' });
    assert.equal((await b.repository('r').tags.resolve('t'))?.value, second.digest.value);
    assert.equal((await a.repository('r').tags.resolve('t'))?.value, second.digest.value);
  });

  it('a put elsewhere keeps what is cached here, as puts only add; a delete elsewhere clears it', async () => {
    const store = await createDriver('inmemory', {});
    let reads = 0;
    // B's reads of the store, counted.
    const counted = new Proxy(store, {
      get(target, prop, receiver) {
        const value = Reflect.get(target, prop, receiver) as unknown;
        if (typeof value !== 'function') return value;
        const fn = value as (...args: unknown[]) => unknown;
        return ['getContent', 'stat', 'reader', 'list'].includes(String(prop)) ? (...args: unknown[]) => (reads++, fn.apply(target, args)) : fn.bind(target);
      },
    });
    const b = new Registry(counted, { policy, metadataTtlMs: 60_000 });
    const a = new Registry(store, { policy, metadataTtlMs: 60_000, announce: async (changes) => b.changes.apply(changes, 'remote') });
    const first = await a.repository('r').manifests.put(manifest(1), undefined, { tag: 't' });
    assert.equal((await b.repository('r').tags.resolve('t'))?.value, first.digest.value);
    const cached = reads;
    await a.repository('r').manifests.put(manifest(2), undefined, { tag: 'u' });
    assert.equal((await b.repository('r').tags.resolve('t'))?.value, first.digest.value);
    assert.equal(reads, cached, "another tag's put leaves B's cached target of t");
    assert.equal(await a.repository('r').tags.untag('u'), true);
    assert.equal((await b.repository('r').tags.resolve('t'))?.value, first.digest.value);
    assert.ok(reads > cached, 'a delete elsewhere has B read t again');
  });

  it('a deleted directory holding repositories takes every one below it out of the catalog, and no other', async () => {
    const { b } = await pair();
    for (const name of ['ns/a', 'ns/a/deep', 'ns-b', 'nsx']) await b.repository(name).manifests.put(manifest(name.length), undefined, { tag: 'v' });
    assert.deepEqual(await b.catalog(), ['ns-b', 'ns/a', 'ns/a/deep', 'nsx']);
    b.changes.apply([{ op: 'delete', path: '/docker/registry/v2/repositories/ns' }], 'remote');
    assert.deepEqual(await b.catalog(), ['ns-b', 'nsx']);
  });

  it('carries each write that matters elsewhere as the path it changed: the link, not the blob, nothing for upload data', async () => {
    const { a, carried } = await pair();
    const repo = a.repository('r');
    const upload = await repo.uploads.create();
    carried.length = 0;
    const blob = Buffer.from('layer');
    const { Readable } = await import('node:stream');
    await repo.uploads.commit(upload.id, digestOf(blob), Readable.from([blob]));
    const paths = carried.flat().map((c) => `${c.op} ${c.path.replace('/docker/registry/v2/', '')}`);
    assert.ok(!paths.includes(`put blobs/sha256/${digestOf(blob).hex.slice(0, 2)}/${digestOf(blob).hex}/data`), paths.join('\n'));
    assert.ok(paths.includes(`put repositories/r/_layers/sha256/${digestOf(blob).hex}/link`), paths.join('\n'));
    assert.ok(paths.every((p) => !p.includes('/_uploads/')), paths.join('\n'));
  });
});
