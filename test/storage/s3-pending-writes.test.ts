/**
 * S3 multipart uploads left in progress (a process killed mid-write) are not objects: deleting
 * objects by prefix does not remove them, yet S3 keeps (and bills) their parts. These tests check
 * against a real S3 server (Ceph RGW) that the s3 driver's delete aborts them at or under the
 * deleted path, and that upload purging also aborts those with no upload folder at all (a
 * monolithic push is written straight at its blob's key: killed, it leaves nothing readable there,
 * only a pending upload), using a real Berth process SIGKILLed in the middle of two uploads.
 */
import assert from 'node:assert/strict';
import { Readable } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import { ListMultipartUploadsCommand, ListObjectsV2Command, ListPartsCommand, S3Client, type MultipartUpload } from '@aws-sdk/client-s3';
import { createDriver } from '../../src/storage/driver/factory.js';
import { PathNotFoundError } from '../../src/storage/driver/errors.js';
import type { StorageDriver } from '../../src/storage/driver/types.js';
import { purgeUploads, uploadDirOf } from '../../src/storage/purge.js';
import { s3RegistryYaml, startS3, type S3Server } from '../helpers/s3.js';
import { startChildRegistry, type Registry } from '../helpers/registry.js';
import { request } from '../helpers/http.js';
import { digest, random, repoName } from '../helpers/content.js';
import { until as untilWithin } from '../helpers/wait.js';

const MiB = 1024 * 1024;
let s3: S3Server;
let raw: S3Client;

before(async () => {
  s3 = await startS3();
  raw = s3.client();
});
after(async () => {
  raw?.destroy();
  await s3?.stop();
});

/** Multipart uploads in progress whose key starts with prefix, straight from S3. */
async function uploadsIn(bucket: string, prefix: string): Promise<MultipartUpload[]> {
  const r = await raw.send(new ListMultipartUploadsCommand({ Bucket: bucket, Prefix: prefix }));
  return r.Uploads ?? [];
}

async function keysIn(bucket: string, prefix: string): Promise<string[]> {
  const r = await raw.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix }));
  return (r.Contents ?? []).map((o) => o.Key!);
}

async function partCount(bucket: string, u: MultipartUpload): Promise<number> {
  const r = await raw.send(new ListPartsCommand({ Bucket: bucket, Key: u.Key!, UploadId: u.UploadId! }));
  return r.Parts?.length ?? 0;
}

/** Waits until `check` holds, re-checking every 50 ms; 60 s is a safety net, not a timing. */
const until = (what: string, check: () => Promise<boolean>) => untilWithin(60_000, what, check);

describe('s3 delete aborts multipart uploads in progress', () => {
  let bucket: string;
  let driver: StorageDriver;
  const ROOT = 'root';
  const uploads = '/docker/registry/v2/repositories/r/_uploads';

  before(async () => {
    bucket = await s3.bucket();
    driver = await createDriver('s3', s3.params(bucket, { chunksize: 5 * MiB, rootdirectory: `/${ROOT}` }));
  });
  after(async () => {
    await driver?.close!();
  });

  /**
   * Starts a write through the driver that becomes a multipart upload with one part stored, and
   * abandons it (as a killed process would): never closed, committed or cancelled.
   */
  async function abandonedWrite(path: string): Promise<void> {
    const w = await driver.writer(path);
    await w.write(random(5 * MiB)); // a full chunk: CreateMultipartUpload, then UploadPart
    const key = ROOT + path;
    await until(`a stored part for ${key}`, async () => {
      const found = (await uploadsIn(bucket, key)).filter((u) => u.Key === key);
      return found.length === 1 && (await partCount(bucket, found[0]!)) === 1;
    });
  }

  it('aborts those below a deleted folder, not those of a sibling whose name only starts the same', async () => {
    await driver.putContent(`${uploads}/abc/startedat`, Buffer.from(new Date().toISOString()));
    await abandonedWrite(`${uploads}/abc/data`);
    await abandonedWrite(`${uploads}/abcd/data`);
    assert.equal((await uploadsIn(bucket, `${ROOT}${uploads}/abc`)).length, 2);

    await driver.delete(`${uploads}/abc`);

    const left = await uploadsIn(bucket, `${ROOT}${uploads}/abc`);
    assert.deepEqual(left.map((u) => u.Key), [`${ROOT}${uploads}/abcd/data`], 'only the sibling abcd keeps its upload');
    assert.deepEqual(await keysIn(bucket, `${ROOT}${uploads}/abc/`), []);

    // A folder holding nothing but an upload in progress: PathNotFoundError (no file was there),
    // and the upload is aborted all the same.
    await assert.rejects(driver.delete(`${uploads}/abcd`), PathNotFoundError);
    assert.deepEqual(await uploadsIn(bucket, `${ROOT}${uploads}/`), []);
  });

  it('aborts the upload at a deleted file\'s own key, not at a longer key', async () => {
    await driver.putContent('/f/blob', Buffer.from('an older, complete version'));
    await abandonedWrite('/f/blob'); // a new version of the same key, in progress
    await abandonedWrite('/f/blobx');
    await driver.delete('/f/blob');
    assert.deepEqual((await uploadsIn(bucket, `${ROOT}/f/`)).map((u) => u.Key), [`${ROOT}/f/blobx`]);
    await assert.rejects(driver.stat('/f/blob'), PathNotFoundError);
  });

  it('lists pending writes as driver paths with their start time, and aborts one', async () => {
    const before = new Date(Date.now() - 60_000);
    const pending = await driver.listPendingWrites!('/f');
    assert.equal(pending.length, 1);
    assert.equal(pending[0]!.path, '/f/blobx');
    assert.ok(pending[0]!.started > before && pending[0]!.started <= new Date(Date.now() + 60_000), `started ${pending[0]!.started.toISOString()}`);
    assert.deepEqual(await driver.listPendingWrites!('/f/blob'), [], '/f/blob does not cover /f/blobx');
    assert.deepEqual((await driver.listPendingWrites!('/')).map((w) => w.path), ['/f/blobx']);
    assert.deepEqual(await driver.listPendingWrites!('/nothing/here'), []);
    await driver.abortPendingWrite!(pending[0]!);
    await driver.abortPendingWrite!(pending[0]!); // already gone: no error
    assert.deepEqual(await uploadsIn(bucket, ''), []);
  });
});

describe('upload purging after a Berth process was SIGKILLed mid-upload', () => {
  let bucket: string;
  let params: Record<string, unknown>;
  let reg: Registry | undefined;
  let driver: StorageDriver;
  const repo = repoName('killed');
  let uploadsPrefix: string;
  /** The upload folder of the chunked upload (POST + PATCH): startedat and an empty data object. */
  let chunkedDir: string;
  /** The pending write of the monolithic upload (POST ?digest=), at its blob's own key: nothing but the multipart upload. */
  let orphanPath: string;
  let blobKey: string;

  before(async () => {
    bucket = await s3.bucket();
    params = s3.params(bucket, { chunksize: 5 * MiB, rootdirectory: '/berth' });
    uploadsPrefix = `berth/docker/registry/v2/repositories/${repo}/_uploads/`;
    const yaml = s3RegistryYaml(params);
    reg = await startChildRegistry({ yaml });
    driver = await createDriver('s3', params);
  });
  after(async () => {
    await reg?.stop().catch(() => undefined);
    await driver?.close!();
  });

  it('leaves multipart uploads in S3 when killed: one under an upload folder, one at a blob\'s key that shows no blob', async () => {
    const r = reg!;
    // A body that sends 9 MiB and then neither ends nor fails: more than one 5 MiB part reaches the
    // store even with the block still filling held back (up to 4 MiB, src/storage/upload-body.ts).
    const stalled = () => {
      const body = new Readable({ read() {} });
      body.push(random(9 * MiB));
      return body;
    };
    const post = await r.req('POST', `/v2/${repo}/blobs/uploads/`);
    assert.equal(post.status, 202);
    const patch = request(r.url, 'PATCH', new URL(post.header('location')!, r.url).toString(), {
      body: stalled(),
      headers: { 'Content-Type': 'application/octet-stream' },
    }).then(() => 'answered', () => 'failed');
    const whole = random(12 * MiB);
    const hex = digest(whole).slice('sha256:'.length);
    blobKey = `berth/docker/registry/v2/blobs/sha256/${hex.slice(0, 2)}/${hex}/data`;
    const monolithic = request(r.url, 'POST', `/v2/${repo}/blobs/uploads/?digest=${digest(whole)}`, {
      body: stalled(),
      headers: { 'Content-Type': 'application/octet-stream', 'Content-Length': whole.length },
    }).then(() => 'answered', () => 'failed');

    // Kill only once both uploads have a part stored in S3.
    const both = async () => [...(await uploadsIn(bucket, uploadsPrefix)), ...(await uploadsIn(bucket, blobKey))];
    await until('two multipart uploads with a part each', async () => {
      const found = await both();
      if (found.length !== 2) return false;
      const parts = await Promise.all(found.map((u) => partCount(bucket, u)));
      return parts.every((n) => n >= 1);
    });
    await r.kill!();
    assert.deepEqual([await patch, await monolithic], ['failed', 'failed']);

    const found = await both();
    assert.equal(found.length, 2);
    const objects = await keysIn(bucket, uploadsPrefix);
    const chunked = found.find((u) => u.Key!.startsWith(uploadsPrefix))!;
    chunkedDir = uploadDirOf(chunked.Key!.slice('berth'.length))!;
    assert.ok(objects.includes(`berth${chunkedDir}/startedat`), objects.join(', '));
    const orphan = found.find((u) => u.Key === blobKey)!;
    orphanPath = orphan.Key!.slice('berth'.length);
    // The blob's key holds no object: nothing reads, lists or serves a blob that was never verified.
    assert.deepEqual(await keysIn(bucket, 'berth/docker/registry/v2/blobs/'), []);
    await assert.rejects(driver.stat(orphanPath), PathNotFoundError);
  });

  it('keeps them while younger than the purge age, and a dry run only reports them', async () => {
    const young = await purgeUploads(driver, { olderThan: new Date(Date.now() - 3600_000), dryRun: false });
    assert.deepEqual(young, { purged: [], aborted: [] });

    const dry = await purgeUploads(driver, { olderThan: new Date(), dryRun: true });
    assert.deepEqual(dry.purged, [chunkedDir]);
    assert.deepEqual(dry.aborted.map((w) => w.path), [orphanPath]);
    assert.equal((await uploadsIn(bucket, uploadsPrefix)).length + (await uploadsIn(bucket, blobKey)).length, 2, 'both multipart uploads are still there');
    assert.ok((await keysIn(bucket, uploadsPrefix)).includes(`berth${chunkedDir}/startedat`));
  });

  it('purging removes the upload folder and aborts both multipart uploads', async () => {
    const result = await purgeUploads(driver, { olderThan: new Date(), dryRun: false });
    assert.deepEqual(result.purged, [chunkedDir]);
    assert.deepEqual(result.aborted.map((w) => w.path), [orphanPath]);
    assert.deepEqual(await uploadsIn(bucket, uploadsPrefix), []);
    assert.deepEqual(await uploadsIn(bucket, 'berth/'), [], 'none at the blob\'s key either');
    assert.deepEqual(await keysIn(bucket, uploadsPrefix), []);
    // Nothing left for a second run.
    assert.deepEqual(await purgeUploads(driver, { olderThan: new Date(), dryRun: false }), { purged: [], aborted: [] });
  });
});

describe('uploadDirOf', () => {
  it('finds the upload folder of a path below `_uploads/<id>`, for nested repository names too', () => {
    const R = '/docker/registry/v2/repositories';
    assert.equal(uploadDirOf(`${R}/a/b/_uploads/u1/data`), `${R}/a/b/_uploads/u1`);
    assert.equal(uploadDirOf(`${R}/a/_uploads/u1`), `${R}/a/_uploads/u1`);
    assert.equal(uploadDirOf(`${R}/a/_uploads`), undefined);
    assert.equal(uploadDirOf(`${R}/a/_layers/sha256/x/link`), undefined);
    assert.equal(uploadDirOf(`${R}/_uploads/u1/data`), undefined, 'no repository name');
    assert.equal(uploadDirOf('/docker/registry/v2/blobs/sha256/ab/abc/data'), undefined);
    assert.equal(uploadDirOf(`${R}x/a/_uploads/u1/data`), undefined);
  });
});
