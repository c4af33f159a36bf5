import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { Readable } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import { parseDigest } from '../../src/oci/digest.js';
import { RegistryError } from '../../src/oci/errors.js';
import type { Repository, RepositoryBlobs, RepositoryManifests, RepositoryTags, RepositoryUploads } from '../../src/storage/repository.js';
import { blob, imageConfig, ociManifest, random, repoName, type Blob, type Manifest } from '../helpers/content.js';

/**
 * The one behaviour suite of the repository seam (src/storage/repository.ts), run by every
 * implementation: the local repository and the mirrored one (test/storage/repository.test.ts).
 * Every operation of the interfaces is in exactly one of READS and WRITES — the compiler refuses
 * this file until an operation added to an interface is — so each implementation is tested on
 * each: reads answer the content the repository holds (a mirror's: its upstream's), writes change
 * storage on a repository that takes them and are refused (UNSUPPORTED, nothing changed) on one
 * that does not.
 */
export interface RepositorySetup {
  /** The repository under test for `name`. */
  repository(name: string): Repository;
  /** Places an image where `repository(name)` reads from: its own storage, or its upstream. */
  seed(name: string, image: TestImage): Promise<void>;
  /** False for a repository that refuses every write (a mirrored one). */
  writable: boolean;
  close(): Promise<void>;
}

export interface TestImage {
  config: Blob;
  layer: Blob;
  manifest: Manifest;
  tag: string;
}

export function testImage(tag = 'v1'): TestImage {
  const config = imageConfig();
  const layer = blob(random(20_000));
  return { config, layer, manifest: ociManifest({ config: config.descriptor, layers: [layer.descriptor] }), tag };
}

type Methods<T> = { [K in keyof T]-?: T[K] extends (...args: never[]) => unknown ? K : never }[keyof T] & string;
type Operation =
  | Methods<Repository>
  | `blobs.${Methods<RepositoryBlobs>}`
  | `tags.${Methods<RepositoryTags>}`
  | `manifests.${Methods<RepositoryManifests>}`
  | `uploads.${Methods<RepositoryUploads>}`;

const d = (text: string) => parseDigest(text);
const UNKNOWN = d(`sha256:${'0'.repeat(64)}`);

async function readAll(stream: Readable): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const chunk of stream) parts.push(chunk as Buffer);
  return Buffer.concat(parts);
}

type Read = (repo: Repository, image: TestImage) => Promise<void>;

/** Each read, on a repository holding `image`: what it answers for that content and for content that is not there. */
const READS = {
  hasManifests: async (repo, { manifest }) => {
    await repo.manifests.has(d(manifest.digest)); // a mirror holds what it has fetched
    assert.equal(await repo.hasManifests(), true);
  },
  'blobs.stat': async (repo, { layer }) => {
    assert.deepEqual(await repo.blobs.stat(d(layer.digest)), { digest: d(layer.digest), size: layer.data.length });
    assert.equal(await repo.blobs.stat(UNKNOWN), undefined);
    if (repo.blobs.cachedStat) {
      assert.deepEqual(repo.blobs.cachedStat(d(layer.digest)), { digest: d(layer.digest), size: layer.data.length }, 'cached');
      assert.equal(repo.blobs.cachedStat(UNKNOWN), undefined, 'cached, unknown');
    }
  },
  'blobs.reader': async (repo, { layer }) => {
    assert.ok((await readAll(await repo.blobs.reader(d(layer.digest)))).equals(layer.data), 'whole');
    assert.ok((await readAll(await repo.blobs.reader(d(layer.digest), 100, 50))).equals(layer.data.subarray(100, 150)), 'a range');
    await assert.rejects(repo.blobs.reader(UNKNOWN), (err: unknown) => err instanceof RegistryError && err.code === 'BLOB_UNKNOWN');
  },
  'blobs.openRead': async (repo, { layer }) => {
    await repo.blobs.stat(d(layer.digest)); // a mirror has the blob once it was asked for
    const file = await repo.blobs.openRead(d(layer.digest));
    if (!file) return; // storage without positioned reads, or content streamed by reader()
    try {
      const buffer = Buffer.alloc(layer.data.length);
      assert.equal(await file.read(buffer, buffer.length, 0), layer.data.length);
      assert.ok(buffer.equals(layer.data));
    } finally {
      await file.close();
    }
  },
  'blobs.redirectURL': async (repo, { layer }) => {
    const url = await repo.blobs.redirectURL(d(layer.digest), 'GET');
    assert.ok(url === undefined || typeof url === 'string');
  },
  'tags.resolve': async (repo, { manifest, tag }) => {
    assert.equal((await repo.tags.resolve(tag))?.value, manifest.digest);
    assert.equal(await repo.tags.resolve('not-a-tag'), undefined);
    if (repo.tags.cachedTarget) {
      assert.equal(repo.tags.cachedTarget(tag)?.value, manifest.digest, 'cached');
      assert.equal(repo.tags.cachedTarget('not-a-tag'), undefined, 'cached, unknown');
    }
  },
  'tags.recent': async (repo, { manifest, tag }) => {
    await repo.tags.resolve(tag);
    // What was just read, or nothing (a mirror keeps nothing: its upstream answers each resolve); never another digest.
    const kept = repo.tags.recent(tag);
    assert.ok(kept === undefined || kept.digest.value === manifest.digest, `recent: ${kept?.digest.value}`);
    assert.equal(repo.tags.recent('not-a-tag'), undefined);
  },
  'tags.list': async (repo, { tag }) => assert.deepEqual(await repo.tags.list(), [tag]),
  'tags.lookup': async (repo, { manifest, tag }) => {
    await repo.tags.resolve(tag); // a mirror knows the tags it has resolved
    assert.deepEqual(await repo.tags.lookup(d(manifest.digest)), [tag]);
    assert.deepEqual(await repo.tags.lookup(UNKNOWN), []);
  },
  'manifests.has': async (repo, { manifest }) => {
    assert.equal(await repo.manifests.has(d(manifest.digest)), true);
    assert.equal(await repo.manifests.has(UNKNOWN), false);
  },
  'manifests.stat': async (repo, { manifest }) => {
    const info = await repo.manifests.stat(d(manifest.digest));
    assert.equal(info?.size, manifest.bytes.length);
    assert.equal(info?.mediaType, manifest.mediaType);
    assert.equal(await repo.manifests.stat(UNKNOWN), undefined);
    if (repo.manifests.cachedStat) {
      assert.deepEqual(repo.manifests.cachedStat(d(manifest.digest)), info, 'cached');
      assert.equal(repo.manifests.cachedStat(UNKNOWN), undefined, 'cached, unknown');
    }
  },
  'manifests.get': async (repo, { manifest }) => {
    const got = await repo.manifests.get(d(manifest.digest));
    assert.ok(got?.content.equals(manifest.bytes));
    assert.equal(got?.digest.value, manifest.digest);
    assert.equal(await repo.manifests.get(UNKNOWN), undefined);
    if (repo.manifests.cached) {
      assert.ok(repo.manifests.cached(d(manifest.digest))?.content.equals(manifest.bytes), 'cached');
      assert.equal(repo.manifests.cached(UNKNOWN), undefined, 'cached, unknown');
    }
  },
  'manifests.revisions': async (repo, { manifest }) => {
    await repo.manifests.has(d(manifest.digest));
    assert.deepEqual((await repo.manifests.revisions()).map((r) => r.value), [manifest.digest]);
  },
  'manifests.info': async (repo, { manifest, layer }) => {
    await repo.manifests.has(d(manifest.digest));
    const info = await repo.manifests.info(d(manifest.digest));
    assert.deepEqual(info?.blobs.map((b) => b.digest.value), [manifest.json.config.digest, layer.digest]);
  },
} satisfies Partial<Record<Operation, Read>>;

/** The reads of a pull, which fill whatever caches the repository keeps. */
async function readThrough(repo: Repository, { manifest, layer, tag }: TestImage): Promise<void> {
  await repo.tags.resolve(tag);
  await repo.manifests.stat(d(manifest.digest));
  await repo.manifests.get(d(manifest.digest));
  await repo.blobs.stat(d(layer.digest));
}

/** After a write that removed the image (the layer's link too, when given), no cached read answers it. */
function assertNothingCached(repo: Repository, { manifest, layer, tag }: Omit<TestImage, 'layer'> & { layer: Blob | undefined }): void {
  assert.equal(repo.tags.cachedTarget?.(tag), undefined, 'cached tag');
  assert.equal(repo.manifests.cachedStat?.(d(manifest.digest)), undefined, 'cached manifest stat');
  assert.equal(repo.manifests.cached?.(d(manifest.digest)), undefined, 'cached manifest');
  if (layer) assert.equal(repo.blobs.cachedStat?.(d(layer.digest)), undefined, 'cached blob');
}

interface Write {
  /** Performs the write on a repository holding `image`; `upload` starts an upload on a repository that takes writes, else names one. */
  run(repo: Repository, image: TestImage, context: { setup: RepositorySetup; upload: () => Promise<string> }): Promise<unknown>;
  /** What the write changed, on a repository that takes writes. */
  check(repo: Repository, image: TestImage, result: unknown): Promise<void>;
}

const fresh = blob(random(3000));
const body = (data: Buffer) => Readable.from([data]);

/** Each write (an upload's status counts: it is part of writing), with what it must have changed where writes are taken. */
const WRITES = {
  delete: {
    run: async (repo, image) => {
      await readThrough(repo, image);
      return repo.delete();
    },
    check: async (repo, image, result) => {
      const { tag } = image;
      assert.equal(result, true);
      assertNothingCached(repo, image);
      assert.equal(await repo.hasManifests(), false);
      assert.equal(await repo.tags.resolve(tag), undefined);
    },
  },
  'blobs.mountFrom': {
    run: async (repo, _image, { setup }) => {
      const source = repoName('source');
      const other = testImage();
      await setup.seed(source, other);
      return { mounted: await repo.blobs.mountFrom(setup.repository(source).blobs, d(other.layer.digest)), other };
    },
    check: async (repo, _image, result) => {
      const { mounted, other } = result as { mounted: unknown; other: TestImage };
      assert.deepEqual(mounted, { digest: d(other.layer.digest), size: other.layer.data.length });
      assert.ok((await readAll(await repo.blobs.reader(d(other.layer.digest)))).equals(other.layer.data));
    },
  },
  'blobs.unlink': {
    run: async (repo, image) => {
      await readThrough(repo, image);
      return repo.blobs.unlink(d(image.layer.digest));
    },
    check: async (repo, { layer }, result) => {
      assert.equal(result, true);
      assert.equal(repo.blobs.cachedStat?.(d(layer.digest)), undefined, 'cached');
      assert.equal(await repo.blobs.stat(d(layer.digest)), undefined);
    },
  },
  'tags.untag': {
    run: async (repo, image) => {
      await readThrough(repo, image);
      return repo.tags.untag(image.tag);
    },
    check: async (repo, { tag, manifest }, result) => {
      assert.equal(result, true);
      assert.equal(repo.tags.cachedTarget?.(tag), undefined, 'cached');
      assert.equal(await repo.tags.resolve(tag), undefined);
      assert.deepEqual(await repo.tags.list(), []);
      assert.equal(await repo.manifests.has(d(manifest.digest)), true, 'the revision stays');
    },
  },
  'manifests.put': {
    run: (repo, { config, layer }) => {
      const m = ociManifest({ config: config.descriptor, layers: [layer.descriptor], annotations: { n: randomUUID() } });
      return repo.manifests.put(m.bytes, m.mediaType, { tag: 'put' }).then(() => m);
    },
    check: async (repo, _image, result) => {
      const m = result as Manifest;
      assert.equal((await repo.tags.resolve('put'))?.value, m.digest);
      assert.ok((await repo.manifests.get(d(m.digest)))?.content.equals(m.bytes));
    },
  },
  'manifests.delete': {
    run: async (repo, image) => {
      await readThrough(repo, image);
      return repo.manifests.delete(d(image.manifest.digest));
    },
    check: async (repo, image, result) => {
      const { manifest, tag } = image;
      assert.equal(result, true);
      assertNothingCached(repo, { ...image, layer: undefined });
      assert.equal(await repo.manifests.has(d(manifest.digest)), false);
      assert.equal(await repo.tags.resolve(tag), undefined, 'its tags go with it');
    },
  },
  'uploads.create': {
    run: (repo) => repo.uploads.create(),
    check: async (repo, _image, result) => {
      const { id, size } = result as { id: string; size: number };
      assert.equal(size, 0);
      assert.equal((await repo.uploads.status(id)).size, 0);
    },
  },
  'uploads.putWhole': {
    run: (repo) => repo.uploads.putWhole(d(fresh.digest), body(fresh.data)),
    check: async (repo, _image, result) => {
      assert.deepEqual(result, { digest: d(fresh.digest), size: fresh.data.length });
      assert.ok((await readAll(await repo.blobs.reader(d(fresh.digest)))).equals(fresh.data));
    },
  },
  'uploads.status': {
    run: async (repo, _image, { upload }) => repo.uploads.status(await upload()),
    check: async (_repo, _image, result) => assert.equal((result as { size: number }).size, 0),
  },
  'uploads.append': {
    run: async (repo, _image, { upload }) => {
      const id = await upload();
      return { id, status: await repo.uploads.append(id, body(fresh.data.subarray(0, 1000)), { offset: 0 }) };
    },
    check: async (repo, _image, result) => {
      const { id, status } = result as { id: string; status: { size: number } };
      assert.equal(status.size, 1000);
      assert.equal((await repo.uploads.status(id)).size, 1000);
    },
  },
  'uploads.commit': {
    run: async (repo, _image, { upload }) => repo.uploads.commit(await upload(), d(fresh.digest), body(fresh.data)),
    check: async (repo, _image, result) => {
      assert.deepEqual(result, { digest: d(fresh.digest), size: fresh.data.length });
      assert.ok((await readAll(await repo.blobs.reader(d(fresh.digest)))).equals(fresh.data));
    },
  },
  'uploads.cancel': {
    run: async (repo, _image, { upload }) => {
      const id = await upload();
      await repo.uploads.cancel(id);
      return id;
    },
    check: async (repo, _image, id) => {
      await assert.rejects(repo.uploads.status(id as string), (err: unknown) => err instanceof RegistryError && err.code === 'BLOB_UPLOAD_UNKNOWN');
    },
  },
} satisfies Partial<Record<Operation, Write>>;

// Every operation is a read or a write: this does not compile while one is in neither table.
const everyOperation: Record<Exclude<Operation, keyof typeof READS | keyof typeof WRITES>, never> = {};
void everyOperation;

/** Registers the suite under `repository suite: <name>`. */
export function runRepositorySuite(name: string, makeSetup: () => Promise<RepositorySetup>): void {
  describe(`repository suite: ${name}`, () => {
    let setup: RepositorySetup;
    before(async () => {
      setup = await makeSetup();
    });
    after(() => setup?.close());

    /** A repository of its own holding a fresh image. */
    async function seeded(): Promise<{ repo: Repository; image: TestImage }> {
      const repoNameForTest = repoName('suite');
      const image = testImage();
      await setup.seed(repoNameForTest, image);
      return { repo: setup.repository(repoNameForTest), image };
    }

    for (const [operation, read] of Object.entries(READS) as [Operation, Read][]) {
      it(`${operation} answers what the repository holds`, async () => {
        const { repo, image } = await seeded();
        await read(repo, image);
      });
    }

    it('knows no repository that holds nothing', async () => {
      const repo = setup.repository(repoName('empty'));
      assert.equal(await repo.hasManifests(), false);
      assert.deepEqual(await repo.manifests.revisions(), []);
    });

    for (const [operation, write] of Object.entries(WRITES) as [Operation, Write][]) {
      it(`${operation} changes storage where writes are taken, and is refused (UNSUPPORTED, nothing changed) where not`, async () => {
        const { repo, image } = await seeded();
        const upload = async () => (setup.writable ? (await repo.uploads.create()).id : randomUUID());
        if (setup.writable) {
          await write.check(repo, image, await write.run(repo, image, { setup, upload }));
          return;
        }
        await assert.rejects(write.run(repo, image, { setup, upload }), (err: unknown) => err instanceof RegistryError && err.code === 'UNSUPPORTED', operation);
        for (const read of Object.values(READS) as Read[]) await read(repo, image); // nothing changed
      });
    }
  });
}
