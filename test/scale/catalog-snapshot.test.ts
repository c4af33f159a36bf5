import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { startS3, type S3Server } from '../helpers/s3.js';
import { startRegistry, type Registry } from '../helpers/registry.js';
import { createDriver } from '../../src/storage/driver/factory.js';
import type { StorageDriver } from '../../src/storage/driver/types.js';
import { CATALOG_SNAPSHOT, REPOSITORIES_ROOT } from '../../src/storage/paths.js';

/**
 * The catalog on an object store: the first catalog request of a process is answered from the
 * list the last walk saved in the bucket, checked by a walk behind it (src/storage/registry.ts).
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

async function start(): Promise<Registry> {
  const params = s3.params(bucket);
  return startRegistry({
    yaml: [
      'version: 0.1',
      'log:',
      '  level: error',
      'storage:',
      '  s3:',
      ...Object.entries(params).map(([k, v]) => `    ${k}: ${JSON.stringify(v)}`),
      '  maintenance:',
      '    uploadpurging:',
      '      enabled: false',
      'http:',
      '  addr: {{addr}}',
      '  secret: snapshot-test',
      '',
    ].join('\n'),
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

async function until(what: string, check: () => Promise<boolean>): Promise<void> {
  for (let i = 0; i < 200; i++) {
    if (await check()) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  assert.fail(`timed out waiting until ${what}`);
}

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
  it('serves a bucket Distribution wrote (no saved list) by walking it, and saves the list', async () => {
    const r = await start();
    try {
      assert.deepEqual(await catalog(r), ['alpha', 'team/beta', 'team/gamma', 'zeta']);
      assert.deepEqual(await savedList(), ['alpha', 'team/beta', 'team/gamma', 'zeta']);
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
