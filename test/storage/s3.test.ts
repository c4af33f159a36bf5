import assert from 'node:assert/strict';
import { randomBytes, createHash } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { createDriver } from '../../src/storage/driver/factory.js';
import type { StorageDriver } from '../../src/storage/driver/types.js';
import { InvalidOffsetError, PathNotFoundError } from '../../src/storage/driver/errors.js';
import { parseS3Params } from '../../src/storage/driver/s3/params.js';
import { startS3, type S3Server } from '../helpers/s3.js';
import { readAll, runDriverSuite } from '../../src/testing/index.js';
import { Readable } from 'node:stream';
import { digestOf } from '../../src/oci/digest.js';
import { BLOBS_ROOT, blobDataPath, uploadsDir } from '../../src/storage/paths.js';
import { RegistryError } from '../../src/oci/errors.js';
import { Registry } from '../../src/storage/registry.js';

// One RGW for this file (or the server S3_ENDPOINT names); each part gets its own bucket.
let s3: S3Server;
before(async () => {
  s3 = await startS3();
});
after(async () => {
  await s3?.stop();
});

// A small chunksize (S3's 5 MiB minimum) so the suite's 32 MiB file takes several parts.
runDriverSuite('s3', async () => {
  const driver = await createDriver('s3', s3.params(await s3.bucket(), { chunksize: 5 * 1024 * 1024 }));
  return { driver, cleanup: () => driver.close!() };
}, { listFiles: true, writeBorrowed: true, statFile: true, stagedWriter: true });

runDriverSuite('s3 with rootdirectory', async () => {
  const driver = await createDriver('s3', s3.params(await s3.bucket(), { rootdirectory: '/some/root/' }));
  return { driver, cleanup: () => driver.close!() };
}, { listFiles: true, writeBorrowed: true, statFile: true, stagedWriter: true });

describe('s3 driver specifics', () => {
  let driver: StorageDriver;
  let other: StorageDriver;
  let bucket: string;
  const MiB = 1024 * 1024;
  before(async () => {
    bucket = await s3.bucket();
    // Small copy chunks so multipart copies are exercised with small files.
    const params = s3.params(bucket, { chunksize: 5 * MiB, multipartcopythresholdsize: 6 * MiB, multipartcopychunksize: 5 * MiB });
    driver = await createDriver('s3', params);
    other = await createDriver('s3', params); // a second instance on the same bucket
  });
  after(async () => {
    await driver.close!();
    await other.close!();
  });

  it('continues a writer closed with a small tail, in another instance, past the part minimum', async () => {
    const a = randomBytes(3 * MiB + 17); // under 5 MiB: read back and continued in memory
    const b = randomBytes(4 * MiB); // now 7 MiB: one object; next append copies it as a part
    const c = randomBytes(6 * MiB + 5); // goes into parts after the server-side copy
    const w1 = await driver.writer('/up/data');
    await w1.write(a);
    await w1.close();
    assert.equal((await other.stat('/up/data')).size, a.length);
    const w2 = await other.writer('/up/data', { append: true });
    assert.equal(w2.size, a.length);
    await w2.write(b);
    await w2.close();
    const w3 = await driver.writer('/up/data', { append: true });
    assert.equal(w3.size, a.length + b.length);
    await w3.write(c);
    await w3.close();
    const w4 = await other.writer('/up/data', { append: true }); // nothing written: object unchanged
    await w4.commit();
    const whole = Buffer.concat([a, b, c]);
    const back = await readAll(await other.reader('/up/data'));
    assert.equal(back.length, whole.length);
    assert.ok(back.equals(whole));
    // A range read across the boundary between the copied part and the new one.
    const at = a.length + b.length - 10;
    assert.ok((await readAll(await driver.reader('/up/data', at, 20))).equals(whole.subarray(at, at + 20)));
    await driver.delete('/up');
  });

  it('keeps a suspended writer\'s multipart upload for the next append, in any instance; a writer killed on the way leaves a prefix of what it wrote, never a torn file', async () => {
    const pending = async (key: string) => (await driver.listPendingWrites!('/kept')).filter((w) => w.path === key);
    const a = randomBytes(6 * MiB + 1);
    const b = randomBytes(11 * MiB);
    const c = randomBytes(2 * MiB);
    const created = await driver.writer('/kept/data');
    await created.commit();
    const w1 = await driver.writer('/kept/data', { append: true });
    await w1.write(a);
    await w1.suspend!();
    // The upload is the file now: no object (nothing readable), one pending write.
    await assert.rejects(other.stat('/kept/data'), PathNotFoundError);
    assert.equal((await pending('/kept/data')).length, 1);
    // Another instance takes b and is killed (abandoned without ending): the parts it stored stay.
    const killed = await other.writer('/kept/data', { append: true });
    assert.equal(killed.size, a.length);
    await killed.write(b); // two parts sent (the second maybe still on its way), 1 MiB never sent
    let had = 0;
    for (const started = Date.now(); had < 10 * MiB && Date.now() - started < 10_000; await new Promise((r) => setTimeout(r, 50))) {
      const probe = await driver.writer('/kept/data', { append: true });
      had = probe.size - a.length;
      await probe.suspend!();
    }
    assert.equal(had, 10 * MiB, 'the parts it stored count; its unsent tail does not');
    const w2 = await driver.writer('/kept/data', { append: true });
    assert.equal(w2.size, a.length + had);
    await w2.write(b.subarray(had));
    await w2.write(c);
    await w2.suspend!();
    const done = await other.writer('/kept/data', { append: true });
    assert.equal(done.size, a.length + b.length + c.length);
    await done.commit();
    const whole = Buffer.concat([a, b, c]);
    assert.ok((await other.getContent('/kept/data')).equals(whole));
    assert.deepEqual(await pending('/kept/data'), []);

    // Killed while turning an object into a kept upload: the object is still the content, and the
    // upload it left is aborted by the next writer that keeps one.
    await driver.putContent('/kept/obj', a);
    const cut = await driver.writer('/kept/obj', { append: true });
    await cut.write(b); // its upload begun: a copy of the object and a part of b
    assert.equal((await other.stat('/kept/obj')).size, a.length);
    const w3 = await other.writer('/kept/obj', { append: true });
    assert.equal(w3.size, a.length);
    await w3.write(c);
    await w3.suspend!();
    assert.equal((await pending('/kept/obj')).length, 1, 'the killed writer\'s upload is gone');
    const w4 = await driver.writer('/kept/obj', { append: true });
    await w4.commit();
    assert.ok((await driver.getContent('/kept/obj')).equals(Buffer.concat([a, c])));
    await driver.delete('/kept');
    assert.deepEqual(await driver.listPendingWrites!('/kept'), []);
  });

  it('reads objects past the SDK into the caller\'s buffers (openRead): in order from an offset, several reads waiting at once, connections reused', async () => {
    const data = randomBytes(3 * MiB + 12_345);
    await driver.putContent('/or/blob', data);
    await driver.putContent('/or/empty', Buffer.alloc(0));
    for (const from of [0, 1, 2 * MiB + 7]) {
      const file = await driver.openRead!('/or/blob', from);
      assert.equal(file.size, data.length);
      // Four reads of 512 KiB (one cut short by the end) asked for together, the way downloads read ahead.
      const buffers = Array.from({ length: 8 }, () => Buffer.alloc(512 * 1024));
      const got: Buffer[] = [];
      for (let at = from; at < data.length; ) {
        const batch = buffers.slice(0, 4).map((b, i) => ({ b, pos: at + i * b.length })).filter((r) => r.pos < data.length);
        const counts = await Promise.all(batch.map((r) => file.read(r.b, Math.min(r.b.length, data.length - r.pos), r.pos)));
        batch.forEach((r, i) => got.push(Buffer.from(r.b.subarray(0, counts[i]))));
        at += counts.reduce((n, c) => n + c, 0);
      }
      await file.close();
      assert.ok(Buffer.concat(got).equals(data.subarray(from)), `whole from ${from}`);
    }
    const early = await driver.openRead!('/or/blob', 0);
    assert.equal(await early.read(Buffer.alloc(100), 100, 0), 100);
    await early.close(); // the rest unread: that connection is closed, the next GET works
    const again = await driver.openRead!('/or/blob', 0);
    const whole = Buffer.alloc(data.length);
    assert.equal(await again.read(whole, whole.length, 0), data.length);
    assert.ok(whole.equals(data));
    await again.close();
    const empty = await driver.openRead!('/or/empty', 0);
    assert.equal(empty.size, 0);
    await empty.close();
    await assert.rejects(driver.openRead!('/or/missing', 0), PathNotFoundError);
    await assert.rejects(driver.openRead!('/or/blob', data.length + 1), InvalidOffsetError);
    await driver.delete('/or');
  });

  it('moves large files with a multipart copy, and deletes more than 1000 keys in batches', async () => {
    const big = randomBytes(13 * MiB);
    await driver.putContent('/mv/src', big);
    await driver.move('/mv/src', '/mv/dst');
    const got = await driver.getContent('/mv/dst');
    assert.equal(createHash('sha256').update(got).digest('hex'), createHash('sha256').update(big).digest('hex'));
    await assert.rejects(driver.stat('/mv/src'), PathNotFoundError);
    const names = Array.from({ length: 1050 }, (_, i) => `/many/d${i % 7}/f${i}`);
    for (let i = 0; i < names.length; i += 50) {
      await Promise.all(names.slice(i, i + 50).map((n) => driver.putContent(n, Buffer.from('x'))));
    }
    let seen = 0;
    await driver.walk('/many', (info) => {
      if (!info.isDir) seen++;
    });
    assert.equal(seen, names.length);
    await driver.delete('/many');
    await assert.rejects(driver.stat('/many'), PathNotFoundError);
    await driver.delete('/mv');
  });

  it('leaves nothing of an upload once its blob is stored, and spends no requests removing a whole one whose data moved', async () => {
    const operations: string[] = [];
    const counted = await createDriver('s3', s3.params(bucket), { onOperation: (e) => operations.push(e.operation) });
    try {
      const registry = new Registry(counted, { policy: { skipReferenceChecks: true, urlsAllow: [], urlsDeny: [] }, metadataTtlMs: 1000 });
      const name = `up-${randomBytes(3).toString('hex')}`;
      const repo = registry.repository(name);
      const whole = Buffer.from('a whole blob in one request');
      await repo.uploads.putWhole(digestOf(whole), Readable.from([whole]));
      assert.deepEqual(operations.filter((op) => op === 'delete'), [], 'no removal of an upload that moved its only file');
      const chunked = randomBytes(1000);
      const up = await repo.uploads.create();
      await repo.uploads.append(up.id, Readable.from([chunked.subarray(0, 400)]));
      await repo.uploads.commit(up.id, digestOf(chunked), Readable.from([chunked.subarray(400)]));
      // The same whole blob again: already stored, so its upload's data is removed instead of moved.
      await repo.uploads.putWhole(digestOf(whole), Readable.from([whole]));
      await assert.rejects(driver.stat(uploadsDir(name)), PathNotFoundError, 'nothing is left under _uploads');
      for (const data of [whole, chunked]) assert.ok((await repo.blobs.stat(digestOf(data)))?.size === data.length);
    } finally {
      await counted.close!();
    }
  });

  it('writes a monolithic push straight at its blob\'s key, shown only once the digest verifies; a wrong digest or a failed body leaves nothing there', async () => {
    const operations: string[] = [];
    const counted = await createDriver('s3', s3.params(bucket, { chunksize: 5 * MiB }), { onOperation: (e) => operations.push(e.operation) });
    const code = (expected: string) => (err: unknown) => err instanceof RegistryError && err.code === expected;
    const pendingBlobs = async () => (await driver.listPendingWrites!(BLOBS_ROOT)).map((w) => w.path);
    try {
      const registry = new Registry(counted, { policy: { skipReferenceChecks: true, urlsAllow: [], urlsDeny: [] }, metadataTtlMs: 1000 });
      const name = `staged-${randomBytes(3).toString('hex')}`;
      const repo = registry.repository(name);
      const whole = randomBytes(12 * MiB + 3); // three parts
      const small = randomBytes(70_000); // one PutObject
      await repo.uploads.putWhole(digestOf(whole), Readable.from([whole.subarray(0, 4 * MiB), whole.subarray(4 * MiB)])); // POST ?digest=
      const up = await repo.uploads.create(); // POST, then PUT ?digest= with the whole body
      await repo.uploads.commit(up.id, digestOf(small), Readable.from([small]));
      assert.deepEqual(operations.filter((op) => op === 'move'), [], 'written in place, not moved');
      for (const data of [whole, small]) assert.ok((await driver.getContent(blobDataPath(digestOf(data)))).equals(data));
      await assert.rejects(driver.stat(uploadsDir(name)), PathNotFoundError, 'nothing is left under _uploads');

      // A body that is not the blob it claims: nothing shows at the claimed blob's key, nothing is
      // left pending, and the upload it completed is gone.
      const claimed = digestOf(randomBytes(32));
      const wrong = await repo.uploads.create();
      await assert.rejects(repo.uploads.commit(wrong.id, claimed, Readable.from([whole])), code('DIGEST_INVALID'));
      await assert.rejects(repo.uploads.status(wrong.id), code('BLOB_UPLOAD_UNKNOWN'));
      await assert.rejects(repo.uploads.putWhole(claimed, Readable.from([small])), code('DIGEST_INVALID'));
      await assert.rejects(driver.stat(blobDataPath(claimed)), PathNotFoundError);
      assert.equal(await repo.blobs.stat(claimed), undefined);

      // A body that fails after two parts were stored (a client gone): nothing shows, nothing is pending.
      const cut = randomBytes(11 * MiB);
      const failing = () => {
        const body = new Readable({ read() {} });
        body.push(cut.subarray(0, 10 * MiB));
        setTimeout(() => body.destroy(new Error('the client went away')), 200);
        return body;
      };
      await assert.rejects(repo.uploads.putWhole(digestOf(cut), failing()));
      const halfway = await repo.uploads.create();
      await assert.rejects(repo.uploads.commit(halfway.id, digestOf(cut), failing()));
      await assert.rejects(driver.stat(blobDataPath(digestOf(cut))), PathNotFoundError);
      assert.equal((await repo.uploads.status(halfway.id)).size, 0, 'the upload holds what it held before');

      // The same blob again: already stored, so what was staged is dropped and the blob stays whole.
      await repo.uploads.putWhole(digestOf(whole), Readable.from([whole]));
      assert.ok((await driver.getContent(blobDataPath(digestOf(whole)))).equals(whole));
      assert.deepEqual(await pendingBlobs(), [], 'nothing left pending at any blob\'s key');
    } finally {
      await counted.close!();
    }
  });

  it('keeps Distribution\'s layout: path P is key rootdirectory+P', async () => {
    const rooted = await createDriver('s3', s3.params(bucket, { rootdirectory: '/reg' }));
    await rooted.putContent('/docker/registry/v2/x', Buffer.from('hi'));
    assert.equal((await driver.getContent('/reg/docker/registry/v2/x')).toString(), 'hi');
    await rooted.delete('/docker');
    await rooted.close!();
  });

  it('gives presigned URLs that plain HTTP clients can fetch', async () => {
    await driver.putContent('/r/blob', Buffer.from('redirected content'));
    const url = await driver.redirectURL('/r/blob', { method: 'GET', expiresIn: 60 });
    assert.ok(url);
    const res = await fetch(url);
    assert.equal(res.status, 200);
    assert.equal(await res.text(), 'redirected content');
    const head = await fetch((await driver.redirectURL('/r/blob', { method: 'HEAD' }))!, { method: 'HEAD' });
    assert.equal(head.status, 200);
    assert.equal(head.headers.get('content-length'), '18');
    const ranged = await fetch(url, { headers: { Range: 'bytes=0-9' } });
    assert.equal(await ranged.text(), 'redirected');
    await driver.delete('/r');
  });
});

describe('s3 parameters', () => {
  it('takes Distribution\'s keys, from YAML values or environment strings', () => {
    const p = parseS3Params({ region: 'eu-west-1', bucket: 'b', chunksize: '10485760', secure: 'false', encrypt: true, keyid: 'k',
      rootdirectory: '/a/b/', storageclass: 'none', v4auth: 'true' });
    assert.equal(p.chunksize, 10485760);
    assert.equal(p.secure, false);
    assert.equal(p.rootdirectory, 'a/b');
    assert.equal(p.storageclass, undefined);
    assert.equal(p.forcepathstyle, false);
    assert.equal(parseS3Params({ bucket: 'b', regionendpoint: 'http://x:1' }).forcepathstyle, true);
    // A move is one CopyObject up to 5 GiB on a store named by regionendpoint; AWS keeps 32 MiB.
    assert.equal(p.multipartcopythresholdsize, 32 * 1024 * 1024);
    assert.equal(parseS3Params({ bucket: 'b', regionendpoint: 'http://x:1' }).multipartcopythresholdsize, 5 * 1024 ** 3);
    assert.equal(parseS3Params({ bucket: 'b', regionendpoint: 'http://x:1', multipartcopythresholdsize: '33554432' }).multipartcopythresholdsize, 32 * 1024 * 1024);
    assert.throws(() => parseS3Params({ region: 'r' }), /storage\.s3\.bucket/);
    assert.throws(() => parseS3Params({ region: 'r', bucket: 'b', chunksize: 1024 }), /storage\.s3\.chunksize/);
    assert.throws(() => parseS3Params({ region: 'r', bucket: 'b', accesskey: 'a' }), /secretkey/);
    assert.throws(() => parseS3Params({ region: 'r', bucket: 'b', storageclass: 'cheap' }), /storageclass/);
  });
});
