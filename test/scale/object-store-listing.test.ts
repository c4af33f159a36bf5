import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { s3RegistryYaml, startS3, type S3Server } from '../helpers/s3.js';
import { startRegistry, type Registry } from '../helpers/registry.js';
import { pushImage } from '../helpers/push.js';
import { createDriver } from '../../src/storage/driver/factory.js';
import type { StorageDriver } from '../../src/storage/driver/types.js';
import { CATALOG_SNAPSHOT, REPOSITORIES_ROOT, savedTagsPath } from '../../src/storage/paths.js';
import { Registry as Storage } from '../../src/storage/registry.js';
import { SavedTagIndex } from '../../src/storage/listing/saved-list.js';
import { compareBytes } from '../../src/storage/listing/sorted.js';
import { until as untilWithin } from '../helpers/wait.js';

/**
 * The catalog on an object store: the first catalog request of a process is answered from the
 * list the last walk saved in the bucket, checked by a walk behind it; without one, a page is
 * answered from the walk's first pages, and so is a tag-list page from the first page of the
 * tag folder's listing (src/storage/listing/: Catalog, TagList, EarlyPages).
 */
let s3: S3Server;
let bucket: string;
let driver: StorageDriver;

const DIGEST = `sha256:${'ab'.repeat(32)}`;

/** A repository as Distribution writes it: a tag, its revision and a layer link. */
async function writeRepository(name: string): Promise<void> {
  const repo = `${REPOSITORIES_ROOT}/${name}`;
  for (const path of [
    `${repo}/_manifests/tags/latest/current/link`,
    `${repo}/_manifests/revisions/sha256/${DIGEST.slice(7)}/link`,
    `${repo}/_layers/sha256/${DIGEST.slice(7)}/link`,
  ]) {
    await driver.putContent(path, Buffer.from(DIGEST));
  }
}

/** Writes DIGEST as a link at every key, 64 at a time. */
async function writeLinks(target: StorageDriver, keys: string[]): Promise<void> {
  let next = 0;
  await Promise.all(Array.from({ length: 64 }, async () => {
    while (next < keys.length) await target.putContent(keys[next++]!, Buffer.from(DIGEST));
  }));
}

async function start(): Promise<Registry> {
  const params = s3.params(bucket);
  return startRegistry({
    yaml: s3RegistryYaml(params, { secret: 'snapshot-test', storage: ['  delete:', '    enabled: true'] }),
  });
}

async function catalog(r: Registry): Promise<string[]> {
  const res = await r.req('GET', '/v2/_catalog');
  assert.equal(res.status, 200);
  return res.json().repositories;
}

async function savedList(): Promise<unknown> {
  return JSON.parse(Buffer.from(await driver.getContent(CATALOG_SNAPSHOT)).toString()).repositories;
}

/** A safety net of 10 s, not a timing. */
const until = (what: string, check: () => Promise<boolean>) => untilWithin(10_000, what, check);

before(async () => {
  s3 = await startS3();
  bucket = await s3.bucket();
  driver = await createDriver('s3', s3.params(bucket));
  for (const name of ['alpha', 'team/beta', 'team/gamma', 'zeta']) await writeRepository(name);
});
after(async () => {
  await driver?.close?.();
  await s3?.stop();
});

describe('catalog on an object store', () => {
  it('walks a bucket Distribution wrote (no saved list) from start-up on, saves the list and serves it', async () => {
    const r = await start();
    try {
      // No catalog request: the walk started with the process.
      const names = ['alpha', 'team/beta', 'team/gamma', 'zeta'];
      await until('the list is saved', async () => JSON.stringify(await savedList().catch(() => undefined)) === JSON.stringify(names));
      assert.deepEqual(await catalog(r), names);
    } finally {
      await r.stop();
    }
  });

  it('answers a new process from the saved list at once, then repairs it from the bucket', async () => {
    // Another program changes the bucket while no Berth runs.
    await writeRepository('added');
    await driver.delete(`${REPOSITORIES_ROOT}/team/beta`);
    const r = await start();
    try {
      assert.deepEqual(await catalog(r), ['alpha', 'team/beta', 'team/gamma', 'zeta'], 'the saved list');
      const truth = ['added', 'alpha', 'team/gamma', 'zeta'];
      await until('the walk has corrected the catalog', async () => JSON.stringify(await catalog(r)) === JSON.stringify(truth));
      assert.deepEqual(await savedList(), truth);
    } finally {
      await r.stop();
    }
  });

  for (const [what, body] of [
    ['not JSON', 'garbage{'],
    ['names that are not repository names', JSON.stringify({ repositories: ['alpha', '../../etc'] })],
    ['no list', JSON.stringify({ written: 'yesterday' })],
  ] as const) {
    it(`ignores a saved list with ${what} and walks instead`, async () => {
      await driver.putContent(CATALOG_SNAPSHOT, Buffer.from(body));
      const r = await start();
      try {
        assert.deepEqual(await catalog(r), ['added', 'alpha', 'team/gamma', 'zeta']);
        assert.deepEqual(await savedList(), ['added', 'alpha', 'team/gamma', 'zeta'], 'replaced by the walk');
      } finally {
        await r.stop();
      }
    });
  }
});

describe('saved catalog kept in step', () => {
  it('a repository pushed through a process is in the saved list a moment later, and a repository deleted is not', async () => {
    const r = await start();
    try {
      const before = await catalog(r);
      assert.deepEqual(await savedList(), before, 'the walk saved the list');
      await pushImage(r, 'pushed/now', 'v1');
      await until('the pushed repository is saved', async () => ((await savedList()) as string[]).includes('pushed/now'));
      assert.equal((await r.req('DELETE', '/v2/_berth/repositories/pushed/now')).status, 202);
      await until('the deleted repository is no longer saved', async () => !((await savedList()) as string[]).includes('pushed/now'));
      assert.deepEqual(await savedList(), before);
    } finally {
      await r.stop();
    }
  });
});

describe('saved tag lists', () => {
  const savedTags = async (name: string): Promise<unknown> => JSON.parse(Buffer.from(await driver.getContent(savedTagsPath(name))).toString()).tags;
  const tagsOf = async (r: Registry, name: string) => {
    const res = await r.req('GET', `/v2/${name}/tags/list`);
    assert.equal(res.status, 200);
    return res.json().tags as string[];
  };

  it('a new process answers its first tag list from the saved tags at once, then repairs it from the bucket', async () => {
    const first = await start();
    try {
      assert.deepEqual(await tagsOf(first, 'zeta'), ['latest']);
      assert.deepEqual(await savedTags('zeta'), ['latest'], 'saved after the listing');
    } finally {
      await first.stop();
    }
    await driver.putContent(`${REPOSITORIES_ROOT}/zeta/_manifests/tags/written-elsewhere/current/link`, Buffer.from(DIGEST));
    const second = await start();
    try {
      assert.deepEqual(await tagsOf(second, 'zeta'), ['latest'], 'the saved tags');
      await until('the listing has corrected the tags', async () => JSON.stringify(await tagsOf(second, 'zeta')) === JSON.stringify(['latest', 'written-elsewhere']));
      assert.deepEqual(await savedTags('zeta'), ['latest', 'written-elsewhere']);
    } finally {
      await second.stop();
    }
  });

  it('ignores saved tags that are not tags', async () => {
    await driver.putContent(savedTagsPath('zeta'), Buffer.from(JSON.stringify({ tags: ['latest', 'no/slashes'] })));
    const r = await start();
    try {
      assert.deepEqual(await tagsOf(r, 'zeta'), ['latest', 'written-elsewhere']);
    } finally {
      await r.stop();
    }
  });

  it('lists a repository that had no saved tags at start-up from the bucket, without reading a list saved since', async () => {
    // At start-up team/gamma has no saved tags, and no tags listed before have been saved elsewhere.
    await driver.delete(savedTagsPath('team/gamma')).catch(() => undefined);
    const r = await start();
    try {
      // Saved after this process listed the saved lists' folder: it goes by that listing and
      // reads the bucket, not this file (a starting point a repository without one never needs).
      await driver.putContent(savedTagsPath('team/gamma'), Buffer.from(JSON.stringify({ tags: ['saved-later'] })));
      assert.deepEqual(await tagsOf(r, 'team/gamma'), ['latest']);
      // zeta's list was saved before the start: it is still the starting point.
      await driver.putContent(savedTagsPath('zeta'), Buffer.from(JSON.stringify({ tags: ['from-saved-list'] })));
      assert.deepEqual(await tagsOf(r, 'zeta'), ['from-saved-list']);
    } finally {
      await r.stop();
    }
  });

  it('a tag pushed through a process is saved a moment later; deleting the repository removes its saved tags', async () => {
    const r = await start();
    try {
      const image = await pushImage(r, 'pushed/tags', 'v1');
      assert.deepEqual(await tagsOf(r, 'pushed/tags'), ['v1']);
      await until('the first listing is saved', async () => JSON.stringify(await savedTags('pushed/tags').catch(() => null)) === '["v1"]');
      assert.equal((await r.req('PUT', '/v2/pushed/tags/manifests/v2', { body: image.manifest.bytes, headers: { 'Content-Type': image.manifest.mediaType } })).status, 201);
      await until('the pushed tag is saved', async () => JSON.stringify(await savedTags('pushed/tags')) === '["v1","v2"]');
      assert.equal((await r.req('DELETE', '/v2/_berth/repositories/pushed/tags')).status, 202);
      await assert.rejects(driver.getContent(savedTagsPath('pushed/tags')), 'no saved tags left');
    } finally {
      await r.stop();
    }
  });
});

describe('index of saved tag lists', () => {
  it('knows after the first listing page which repositories up to there have none, and the rest once listed', async () => {
    const indexed = await createDriver('s3', s3.params(bucket, { rootdirectory: '/index' }));
    try {
      // More saved lists than the first listing page (400 keys) holds.
      const names = Array.from({ length: 450 }, (_, i) => `team/r${String(i).padStart(3, '0')}`);
      let next = 0;
      await Promise.all(Array.from({ length: 64 }, async () => {
        while (next < names.length) await indexed.putContent(savedTagsPath(names[next++]!), Buffer.from('{"tags":[]}'));
      }));
      const index = new SavedTagIndex((path) => indexed.listFiles!(path));
      await index.load();
      assert.equal(index.mayHave('team/r000'), true);
      assert.equal(index.mayHave('team/r0005'), false, 'sorts among the first page and is not in it');
      assert.equal(index.mayHave('team/r005/nested'), false);
      await until('the whole folder is listed', async () => !index.mayHave('zz/unknown'));
      assert.equal(index.mayHave('team/r449'), true);
      assert.equal(index.mayHave('team/r450'), false);
      index.saved('team/r450');
      assert.equal(index.mayHave('team/r450'), true);
    } finally {
      await indexed.close?.();
    }
  });
});

describe('catalog pages from the first pages of a walk', () => {
  // Names whose key order differs from their name order, at the start of the key space, then
  // enough others (one key each) that the walk takes two listing pages of 1000 keys.
  const tricky = ['a', 'a-b', 'a.b', 'a/b', 'a/0', 'a0', 'a__b', 'ab', 'a-b/c', 'b', 'b-1', 'b/c'];
  const filler = Array.from({ length: 1100 }, (_, i) => `zz/fill-${String(i).padStart(4, '0')}`);
  const truth = [...tricky, ...filler].sort(compareBytes);
  let walked: StorageDriver;

  before(async () => {
    walked = await createDriver('s3', s3.params(bucket, { rootdirectory: '/early' }));
    const keys = [
      ...tricky.flatMap((n) => [`${REPOSITORIES_ROOT}/${n}/_layers/sha256/${DIGEST.slice(7)}/link`, `${REPOSITORIES_ROOT}/${n}/_manifests/revisions/sha256/${DIGEST.slice(7)}/link`]),
      ...filler.map((n) => `${REPOSITORIES_ROOT}/${n}/_manifests/revisions/sha256/${DIGEST.slice(7)}/link`),
    ];
    await writeLinks(walked, keys);
  });
  after(async () => {
    await walked?.close?.();
  });

  for (const [after, count] of [['', 11], ['', 1], ['a', 3], ['a-b', 5], ['a/0', 2], ['ab', 3], ['b', 2]] as const) {
    it(`the ${count} names after "${after}" are exact, answered before the walk ends`, async () => {
      // Caching off: no saved list is used, every call walks.
      const storage = new Storage(walked, { metadataTtlMs: 0, policy: { skipReferenceChecks: false, urlsAllow: [], urlsDeny: [] } });
      const got = await storage.catalog({ after, count });
      const from = (list: string[]) => list.filter((n) => compareBytes(n, after) > 0).slice(0, count);
      assert.deepEqual(from(got), from(truth));
      assert.ok(got.length < truth.length, `answered from part of the walk (${got.length} of ${truth.length} names)`);
    });
  }

  it('a page reaching past what the first listing page holds waits for more of the walk', async () => {
    const storage = new Storage(walked, { metadataTtlMs: 0, policy: { skipReferenceChecks: false, urlsAllow: [], urlsDeny: [] } });
    const got = await storage.catalog({ after: 'zz/fill-0500', count: 1000 });
    assert.deepEqual(got.filter((n) => n > 'zz/fill-0500'), truth.filter((n) => n > 'zz/fill-0500'));
  });
});

describe('catalog walk past a repository with thousands of keys', () => {
  let big: StorageDriver;
  const others = Array.from({ length: 30 }, (_, i) => `other/r${i}`);

  before(async () => {
    big = await createDriver('s3', s3.params(bucket, { rootdirectory: '/big' }));
    const repo = `${REPOSITORIES_ROOT}/aaa/big`;
    const keys = [
      `${repo}/_manifests/revisions/sha256/${DIGEST.slice(7)}/link`,
      ...Array.from({ length: 2600 }, (_, t) => `${repo}/_manifests/tags/t${t}/current/link`),
      ...others.map((n) => `${REPOSITORIES_ROOT}/${n}/_manifests/revisions/sha256/${DIGEST.slice(7)}/link`),
    ];
    await writeLinks(big, keys);
  });
  after(async () => {
    await big?.close?.();
  });

  it('goes on after the folder a listing page ends in, instead of listing all of it', async () => {
    let pagesRead = 0;
    const counting = Object.create(big, {
      listFiles: {
        value: async function* (path: string, skip?: (last: string) => string | undefined) {
          for await (const page of big.listFiles!(path, skip)) {
            pagesRead++;
            yield page;
          }
        },
      },
    }) as StorageDriver;
    const storage = new Storage(counting, { metadataTtlMs: 0, policy: { skipReferenceChecks: false, urlsAllow: [], urlsDeny: [] } });
    assert.deepEqual(await storage.catalog(), ['aaa/big', ...others].sort(compareBytes));
    // 2,632 keys: three pages or more when listed through, two when the tag folder is left.
    assert.equal(pagesRead, 2);
  });
});

describe('tag-list pages from the first page of a listing', () => {
  const tricky = ['1', '1-rc', '1.0', '1.0-rc.1', '1.0.1', '10', 'latest', 'v1', 'v1-alpha', 'v1.2', 'v1_2'];
  const filler = Array.from({ length: 1100 }, (_, i) => `zz-${String(i).padStart(4, '0')}`);
  const truth = [...tricky, ...filler].sort(compareBytes);
  const repo = 'tagged/app';
  let listed: StorageDriver;

  before(async () => {
    listed = await createDriver('s3', s3.params(bucket, { rootdirectory: '/tags' }));
    const keys = [...tricky, ...filler].map((t) => `${REPOSITORIES_ROOT}/${repo}/_manifests/tags/${t}/current/link`);
    await writeLinks(listed, keys);
  });
  after(async () => {
    await listed?.close?.();
  });

  const tagsOf = (from: StorageDriver = listed) => new Storage(from, { metadataTtlMs: 0, policy: { skipReferenceChecks: false, urlsAllow: [], urlsDeny: [] } }).localRepository(repo).tags;

  /**
   * The driver, with the listing of the whole tag folder held after its first page until
   * `release()`: a page answered meanwhile was answered before the listing ended, whatever the
   * order the store's answers came in. (Released after a minute anyway, so that a list that waits
   * for the whole listing fails its assertion instead of hanging.)
   */
  function holdingRest(): { driver: StorageDriver; release: () => void } {
    let release!: () => void;
    const held = new Promise<void>((resolve) => (release = resolve));
    setTimeout(release, 60_000).unref();
    const driver = Object.create(listed, {
      listChildren: {
        value: async function* (path: string, after?: string) {
          let pages = 0;
          for await (const page of listed.listChildren!(path, after)) {
            if (after === undefined && pages++ > 0) await held;
            yield page;
          }
        },
      },
    }) as StorageDriver;
    return { driver, release };
  }

  for (const [after, count] of [['', 6], ['1', 3], ['1.0', 4], ['10', 5], ['v1', 3], ['zz-0900', 5], ['zz-1098', 5]] as const) {
    it(`the ${count} tags after "${after}" are exact, answered before the listing ends`, async () => {
      const { driver: holding, release } = holdingRest();
      try {
        const got = await tagsOf(holding).list({ after, count });
        const from = (list: string[]) => list.filter((t) => compareBytes(t, after) > 0).slice(0, count);
        assert.deepEqual(from(got), from(truth));
        assert.ok(got.length < truth.length, `answered from part of the listing (${got.length} of ${truth.length} tags)`);
      } finally {
        release();
      }
    });
  }

  it('the whole list, and a page past the first listing page, are complete', async () => {
    assert.deepEqual(await tagsOf().list(), truth);
    const got = await tagsOf().list({ after: 'zz-0990', count: 50 });
    assert.deepEqual(got.filter((t) => t > 'zz-0990').slice(0, 50), truth.filter((t) => t > 'zz-0990').slice(0, 50));
  });
});
