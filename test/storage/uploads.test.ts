// The upload store on the in-memory driver: a blob becomes visible only under the digest of the
// bytes received (whole in one request, or in chunks strictly in order), and nothing of an upload
// that failed verification is left. The HTTP side is test/api/uploads.test.ts and blobs.test.ts.
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { describe, it } from 'node:test';
import { wrapDriver } from '../../src/storage/driver/base.js';
import { StorageDriverError, StorageFullError } from '../../src/storage/driver/errors.js';
import { createDriver } from '../../src/storage/driver/factory.js';
import { InMemoryDriver } from '../../src/storage/driver/inmemory.js';
import type { FileInfo, FileWriter, StorageDriver, WriterOptions } from '../../src/storage/driver/types.js';
import { digestOf, type Digest } from '../../src/oci/digest.js';
import { RegistryError, type ErrorCode } from '../../src/oci/errors.js';
import { blobDataPath, uploadDataPath, uploadsDir, uploadStartedAtPath } from '../../src/storage/paths.js';
import { Registry } from '../../src/storage/registry.js';
import { uploadRange } from '../../src/storage/uploads.js';

const policy = { skipReferenceChecks: true, urlsAllow: [], urlsDeny: [] };
const NAME = 'team/app';

async function setup(driver?: StorageDriver) {
  const store = driver ?? (await createDriver('inmemory', {}));
  const registry = new Registry(store, { policy, metadataTtlMs: 0 });
  return { store, registry, repo: registry.repository(NAME) };
}

const body = (...chunks: string[]) => Readable.from(chunks.map((c) => Buffer.from(c)));

async function rejects(p: Promise<unknown>, code: ErrorCode, check?: (err: RegistryError) => void): Promise<void> {
  await assert.rejects(p, (err: unknown) => {
    assert.ok(err instanceof RegistryError, String(err));
    assert.equal(err.code, code, err.message);
    check?.(err);
    return true;
  });
}

async function exists(store: StorageDriver, path: string): Promise<boolean> {
  try {
    await store.stat(path);
    return true;
  } catch {
    return false;
  }
}

async function content(store: StorageDriver, d: Digest): Promise<string> {
  return (await store.getContent(blobDataPath(d))).toString();
}

describe('upload store', () => {
  it('a new upload has an id, a start time and no bytes', async () => {
    const { store, repo } = await setup();
    const up = await repo.uploads.create();
    assert.match(up.id, /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
    assert.equal(up.size, 0);
    assert.deepEqual(await repo.uploads.status(up.id), { id: up.id, size: 0 });
    assert.ok(!Number.isNaN(Date.parse((await store.getContent(uploadStartedAtPath(NAME, up.id))).toString())));
    assert.equal((await store.stat(uploadDataPath(NAME, up.id))).size, 0);
  });

  it('appends chunks in order and commits them under their digest, leaving no upload behind', async () => {
    const { store, repo } = await setup();
    const up = await repo.uploads.create();
    assert.deepEqual(await repo.uploads.append(up.id, body('hello, '), { start: 0, length: 7, offset: 0 }), { id: up.id, size: 7 });
    assert.deepEqual(await repo.uploads.append(up.id, body('wor', 'ld'), { start: 7 }), { id: up.id, size: 12 });
    assert.deepEqual(await repo.uploads.status(up.id), { id: up.id, size: 12 });
    const d = digestOf(Buffer.from('hello, world'));
    assert.deepEqual(await repo.uploads.commit(up.id, d, undefined, { offset: 12 }), { digest: d, size: 12 });
    assert.equal(await content(store, d), 'hello, world');
    assert.deepEqual(await repo.blobs.stat(d), { digest: d, size: 12 });
    await rejects(repo.uploads.status(up.id), 'BLOB_UPLOAD_UNKNOWN');
    assert.equal(await exists(store, `${uploadsDir(NAME)}/${up.id}`), false);
  });

  it('takes a last chunk with the commit', async () => {
    const { store, repo } = await setup();
    const up = await repo.uploads.create();
    await repo.uploads.append(up.id, body('abc'));
    const d = digestOf(Buffer.from('abcdef'));
    assert.deepEqual(await repo.uploads.commit(up.id, d, body('def'), { start: 3, length: 3 }), { digest: d, size: 6 });
    assert.equal(await content(store, d), 'abcdef');
  });

  it('refuses a chunk that does not start where the upload ends, telling the current Range, and keeps the upload', async () => {
    const { repo } = await setup();
    const up = await repo.uploads.create();
    await repo.uploads.append(up.id, body('abc'));
    for (const expect of [{ start: 2 }, { start: 4 }, { start: 0 }, { offset: 0 }, { offset: 4 }]) {
      await rejects(repo.uploads.append(up.id, body('x'), expect), 'RANGE_INVALID', (err) => {
        assert.equal(err.status, 416);
        assert.deepEqual(err.headers, { Range: '0-2' });
        assert.deepEqual(err.detail, { expected: 3, got: expect.start ?? expect.offset });
        assert.equal(err.message, expect.start !== undefined ? 'chunk does not start where the upload ends' : 'the upload URL is out of date: continue from the Location of the last response');
      });
      await rejects(repo.uploads.commit(up.id, digestOf(Buffer.from('abcx')), body('x'), expect), 'RANGE_INVALID');
      await rejects(repo.uploads.commit(up.id, digestOf(Buffer.from('abc')), undefined, expect), 'RANGE_INVALID');
    }
    assert.deepEqual(await repo.uploads.status(up.id), { id: up.id, size: 3 });
    const empty = await repo.uploads.create();
    await rejects(repo.uploads.append(empty.id, body('x'), { start: 1 }), 'RANGE_INVALID', (err) => assert.deepEqual(err.headers, { Range: '0-0' }));
  });

  it('refuses a chunk whose length is not the one announced (SIZE_INVALID)', async () => {
    const { repo } = await setup();
    const up = await repo.uploads.create();
    await rejects(repo.uploads.append(up.id, body('abcd'), { length: 3 }), 'SIZE_INVALID', (err) => {
      assert.deepEqual(err.detail, { expected: 3, got: 4 });
      assert.equal(err.message, 'chunk length does not match its Content-Range or Content-Length');
    });
    await rejects(repo.uploads.append(up.id, body('ab'), { start: 4, length: 3 }), 'SIZE_INVALID', (err) => assert.deepEqual(err.detail, { expected: 3, got: 2 }));
  });

  it('refuses a commit under the wrong digest: nothing stored, the upload removed', async () => {
    const { store, repo } = await setup();
    for (const last of [false, true]) {
      const up = await repo.uploads.create();
      await repo.uploads.append(up.id, body('real bytes'));
      const claimed = digestOf(Buffer.from(last ? 'real bytes!' : 'other bytes'));
      const actual = digestOf(Buffer.from(last ? 'real bytes!!' : 'real bytes'));
      await rejects(repo.uploads.commit(up.id, claimed, last ? body('!!') : undefined), 'DIGEST_INVALID', (err) => {
        assert.deepEqual(err.detail, { digest: claimed.value, actual: actual.value });
      });
      assert.equal(await exists(store, blobDataPath(claimed)), false);
      assert.equal(await exists(store, blobDataPath(actual)), false);
      assert.equal(await repo.blobs.stat(claimed), undefined);
      await rejects(repo.uploads.status(up.id), 'BLOB_UPLOAD_UNKNOWN');
    }
  });

  it('verifies a sha512 digest by sha512', async () => {
    const { store, repo } = await setup();
    const up = await repo.uploads.create();
    await repo.uploads.append(up.id, body('five1'));
    const d = digestOf(Buffer.from('five1'), 'sha512');
    assert.deepEqual(await repo.uploads.commit(up.id, d), { digest: d, size: 5 });
    assert.equal(await content(store, d), 'five1');
    const whole = await repo.uploads.putWhole(digestOf(Buffer.from('x'), 'sha512'), body('x'));
    assert.equal(whole.digest.algorithm, 'sha512');
  });

  it('continues an upload another process started (its running hash rebuilt from the bytes stored)', async () => {
    const first = await setup();
    const up = await first.repo.uploads.create();
    await first.repo.uploads.append(up.id, body('first half, '));
    const second = await setup(first.store);
    await second.repo.uploads.append(up.id, body('second half'), { start: 12 });
    const d = digestOf(Buffer.from('first half, second half'));
    assert.deepEqual(await second.repo.uploads.commit(up.id, d), { digest: d, size: 23 });
    // A third process finishes another upload begun elsewhere, with its last chunk in the commit.
    const up2 = await first.repo.uploads.create();
    await first.repo.uploads.append(up2.id, body('a'));
    const third = await setup(first.store);
    const d2 = digestOf(Buffer.from('ab'));
    assert.deepEqual(await third.repo.uploads.commit(up2.id, d2, body('b')), { digest: d2, size: 2 });
  });

  it('appends concurrent chunks to one upload one after another', async () => {
    const { repo } = await setup();
    const up = await repo.uploads.create();
    const results = await Promise.allSettled([repo.uploads.append(up.id, body('aaaa'), { start: 0 }), repo.uploads.append(up.id, body('bbbb'), { start: 0 })]);
    assert.deepEqual(results.map((r) => r.status).sort(), ['fulfilled', 'rejected']);
    assert.deepEqual(await repo.uploads.status(up.id), { id: up.id, size: 4 });
    const both = await Promise.all([repo.uploads.append(up.id, body('cc')), repo.uploads.append(up.id, body('dd'))]);
    assert.deepEqual(both.map((s) => s.size), [6, 8]);
  });

  it('does not trust its running hash once another process has appended to the upload', async () => {
    const a = await setup();
    const up = await a.repo.uploads.create();
    await a.repo.uploads.append(up.id, body('from a, '));
    const b = await setup(a.store);
    await b.repo.uploads.append(up.id, body('from b'), { start: 8 });
    const d = digestOf(Buffer.from('from a, from b'));
    assert.deepEqual(await a.repo.uploads.commit(up.id, d), { digest: d, size: 14 });
  });

  it('goes on with the next chunk after one that was refused', async () => {
    const { repo } = await setup();
    const up = await repo.uploads.create();
    const [refused, taken] = await Promise.allSettled([repo.uploads.append(up.id, body('x'), { start: 5 }), repo.uploads.append(up.id, body('abc'), { start: 0 })]);
    assert.equal(refused.status, 'rejected');
    assert.deepEqual(taken, { status: 'fulfilled', value: { id: up.id, size: 3 } });
  });

  it('keeps each upload\'s running hash to itself', async () => {
    const { repo } = await setup();
    const one = await repo.uploads.create();
    const two = await repo.uploads.create();
    await repo.uploads.append(one.id, body('aaa'));
    await repo.uploads.append(two.id, body('bbb'));
    const d = digestOf(Buffer.from('aaa'));
    assert.deepEqual(await repo.uploads.commit(one.id, d), { digest: d, size: 3 });
  });

  it('queues a chunk that arrives while the one before it is still being written', async () => {
    const { repo } = await setup();
    const up = await repo.uploads.create();
    const first = repo.uploads.append(up.id, body('aa'));
    const second = repo.uploads.append(up.id, body('bb'));
    await first;
    const third = repo.uploads.append(up.id, body('cc'));
    assert.deepEqual([(await second).size, (await third).size], [4, 6]);
    const d = digestOf(Buffer.from('aabbcc'));
    assert.deepEqual(await repo.uploads.commit(up.id, d), { digest: d, size: 6 });
  });

  it('refuses a chunk cut off midway, keeping none of its unfinished block, on every driver, and goes on from where the upload stands', async () => {
    // A body is stored in whole blocks (upload-body.ts, BLOCK_SIZE): the bytes of a block still
    // filling when the body fails are not written, whichever driver is below (every driver keeps
    // what a closed writer was given: the driver suite's "appends across several writers").
    const root = await mkdtemp(path.join(os.tmpdir(), 'berth-uploads-'));
    try {
      for (const driver of [await createDriver('inmemory', {}), await createDriver('filesystem', { rootdirectory: root })]) {
        const { repo } = await setup(driver);
        const up = await repo.uploads.create();
        await repo.uploads.append(up.id, body('ab'));
        const cut = Readable.from((async function* () {
          yield Buffer.from('cde');
          throw new Error('client went away');
        })());
        await assert.rejects(repo.uploads.append(up.id, cut, { start: 2 }), /client went away/);
        assert.deepEqual(await repo.uploads.status(up.id), { id: up.id, size: 2 }, driver.name);
        await repo.uploads.append(up.id, body('cdef'), { start: 2 });
        const d = digestOf(Buffer.from('abcdef'));
        assert.deepEqual(await repo.uploads.commit(up.id, d), { digest: d, size: 6 }, driver.name);
      }
    } finally {
      await rm(root, { recursive: true, force: true });
    }
  });

  it('hashes each byte once, as it arrives, and makes an upload durable only when it is finished', async () => {
    // What the storage driver is asked, as its metrics hook sees it: a chunk is closed (no fsync
    // per PATCH), the finished upload committed (made durable) before it is moved into place, and
    // the bytes are read back only by a process that did not receive them.
    const ops: string[] = [];
    let data = '';
    const driver = wrapDriver(new InMemoryDriver(), { onOperation: (e) => { if (e.path === data) ops.push(e.operation); } });
    const one = await setup(driver);
    const twice = async (first = 'ab', second = 'cd') => {
      const up = await one.repo.uploads.create();
      data = uploadDataPath(NAME, up.id);
      await one.repo.uploads.append(up.id, body(first));
      await one.repo.uploads.append(up.id, body(second));
      return up.id;
    };
    const without = (op: string) => ops.filter((o) => o !== op);

    let id = await twice();
    // The size comes from the append writer (no stat); the in-memory driver has no suspend().
    assert.deepEqual(without('writer.write'), ['writer', 'writer.close', 'writer', 'writer.close'], 'no read, no commit');
    ops.length = 0;
    const d = digestOf(Buffer.from('abcd'));
    assert.deepEqual(await one.repo.uploads.commit(id, d), { digest: d, size: 4 });
    assert.deepEqual(ops, ['writer', 'writer.commit', 'move'], 'no read: the running hash is kept');

    id = await twice();
    ops.length = 0;
    const e = digestOf(Buffer.from('abcdef'));
    assert.deepEqual(await one.repo.uploads.commit(id, e, body('ef')), { digest: e, size: 6 });
    assert.deepEqual(without('writer.write'), ['writer', 'writer.commit', 'move'], 'the last chunk committed as it is written');

    // Another process (its own running hashes) reads what it did not receive, once.
    id = await twice('gh', 'ij');
    ops.length = 0;
    const other = await setup(driver);
    const f = digestOf(Buffer.from('ghij'));
    assert.deepEqual(await other.repo.uploads.commit(id, f), { digest: f, size: 4 });
    // The data is made a whole file (on S3 a kept multipart upload is completed) before it is read.
    assert.deepEqual(ops, ['writer', 'writer.commit', 'reader', 'move']);
  });

  it('passes storage failures on as they are, and ends an upload that filled the device', async () => {
    const faults = { stat: false, full: false, startedAt: false };
    class Faulty extends InMemoryDriver {
      override async stat(path: string): Promise<FileInfo> {
        if (faults.stat && path.includes('/_uploads/')) throw new Error('disk on fire');
        return super.stat(path);
      }
      override async putContent(path: string, content: Uint8Array): Promise<void> {
        if (faults.startedAt && path.endsWith('/startedat')) throw Object.assign(new Error('no space'), { code: 'ENOSPC' });
        return super.putContent(path, content);
      }
      override async writer(path: string, options?: WriterOptions): Promise<FileWriter> {
        const inner = await super.writer(path, options);
        if (!faults.full) return inner;
        return { get size() { return inner.size; }, write: async () => { throw Object.assign(new Error('no space'), { code: 'ENOSPC' }); }, close: () => inner.close(), cancel: () => inner.cancel(), commit: () => inner.commit() };
      }
    }
    const { store, repo } = await setup(wrapDriver(new Faulty()));
    const up = await repo.uploads.create();
    faults.stat = true;
    await assert.rejects(repo.uploads.status(up.id), (err: unknown) => err instanceof StorageDriverError && !(err instanceof RegistryError) && /disk on fire/.test(err.message));
    faults.stat = false;
    faults.full = true;
    await assert.rejects(repo.uploads.append(up.id, body('abc')), StorageFullError);
    faults.full = false;
    await rejects(repo.uploads.status(up.id), 'BLOB_UPLOAD_UNKNOWN');
    faults.startedAt = true;
    await assert.rejects(repo.uploads.create(), StorageFullError);
    assert.deepEqual(await store.list(uploadsDir(NAME)), [], 'no half-made upload left');
  });

  it('answers BLOB_UPLOAD_UNKNOWN for an id that is not an upload id or not an upload', async () => {
    const { repo } = await setup();
    const uuid = '0b0c1f3e-2a4d-4b6f-8c9d-0e1f2a3b4c5d';
    // An id is checked whole before it names a path: with a valid id inside, dot segments would
    // reach the driver (which refuses them as an invalid path, not an unknown upload).
    for (const id of ['nope', '../../x', uuid, uuid.toUpperCase(), `x0000000-0000-0000-0000-${'0'.repeat(12)}`, `${uuid}/../../_layers`, `../../_layers/${uuid}`, `${uuid}0`, `0${uuid}`]) {
      await rejects(repo.uploads.status(id), 'BLOB_UPLOAD_UNKNOWN', (err) => assert.deepEqual(err.detail, { id }));
      await rejects(repo.uploads.append(id, body('x')), 'BLOB_UPLOAD_UNKNOWN', (err) => assert.deepEqual(err.detail, { id }));
      await rejects(repo.uploads.commit(id, digestOf(Buffer.from('x')), body('x')), 'BLOB_UPLOAD_UNKNOWN', (err) => assert.deepEqual(err.detail, { id }));
      await rejects(repo.uploads.cancel(id), 'BLOB_UPLOAD_UNKNOWN', (err) => assert.deepEqual(err.detail, { id }));
    }
  });

  it('cancels an upload: its files go', async () => {
    const { store, repo } = await setup();
    const up = await repo.uploads.create();
    await repo.uploads.append(up.id, body('abc'));
    await repo.uploads.cancel(up.id);
    assert.equal(await exists(store, `${uploadsDir(NAME)}/${up.id}`), false);
    await rejects(repo.uploads.status(up.id), 'BLOB_UPLOAD_UNKNOWN');
  });

  it('stores a whole blob from one request only under its own digest and length', async () => {
    const { store, repo } = await setup();
    const d = digestOf(Buffer.from('whole blob'));
    assert.deepEqual(await repo.uploads.putWhole(d, body('whole ', 'blob'), { length: 10 }), { digest: d, size: 10 });
    assert.equal(await content(store, d), 'whole blob');
    assert.deepEqual(await repo.blobs.stat(d), { digest: d, size: 10 });

    const wrong = digestOf(Buffer.from('claimed'));
    await rejects(repo.uploads.putWhole(wrong, body('sent')), 'DIGEST_INVALID', (err) => assert.deepEqual(err.detail, { digest: wrong.value, actual: digestOf(Buffer.from('sent')).value }));
    assert.equal(await exists(store, blobDataPath(wrong)), false);
    assert.equal(await repo.blobs.stat(wrong), undefined);

    const short = digestOf(Buffer.from('short'));
    await rejects(repo.uploads.putWhole(short, body('short'), { length: 6 }), 'SIZE_INVALID', (err) => {
      assert.deepEqual(err.detail, { expected: 6, got: 5 });
      assert.equal(err.message, 'body length does not match Content-Length');
    });
    assert.equal(await exists(store, blobDataPath(short)), false);

    const failing = new Readable({ read() { this.destroy(new Error('client went away')); } });
    await assert.rejects(repo.uploads.putWhole(digestOf(Buffer.from('')), failing), /client went away/);
    assert.deepEqual(await store.list(uploadsDir(NAME)).catch(() => []), [], 'no upload files left by any of them');
  });

  it('a blob already stored is linked, not stored again', async () => {
    const { registry, repo } = await setup();
    const d = digestOf(Buffer.from('shared'));
    await repo.uploads.putWhole(d, body('shared'));
    const other = registry.repository('team/other');
    const up = await other.uploads.create();
    await other.uploads.append(up.id, body('shared'));
    assert.deepEqual(await other.uploads.commit(up.id, d), { digest: d, size: 6 });
    assert.deepEqual(await other.blobs.stat(d), { digest: d, size: 6 });
  });

  it('tells the Range of an upload as Distribution does', () => {
    assert.equal(uploadRange(0), '0-0');
    assert.equal(uploadRange(1), '0-0');
    assert.equal(uploadRange(10), '0-9');
  });
});
