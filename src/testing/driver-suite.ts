import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import type { Readable } from 'node:stream';
import * as nodeTest from 'node:test';
import {
  InvalidOffsetError,
  InvalidPathError,
  PathNotFoundError,
  StorageDriverError,
} from '../storage/driver/errors.js';
import type { FileInfo, FileWriter, StorageDriver, WalkResult } from '../storage/driver/types.js';

/**
 * The one behaviour suite every storage driver must pass: Berth's own (filesystem, inmemory, s3,
 * azure) and a plugin's (`import { runDriverSuite } from 'berth/testing'`, docs/extending.md).
 * Each driver's test file runs it in a few lines. `setup` must return a driver as createDriver
 * does (wrapped by the base wrapper). Every test works under its own folder, which is deleted
 * after it; at the end the suite checks that the driver's root holds exactly what it held
 * before, so a driver that leaves files behind (or writes outside the asked path) fails.
 */
export interface DriverSetup {
  driver: StorageDriver;
  cleanup(): Promise<void>;
}

export async function readAll(stream: Readable): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const chunk of stream) parts.push(Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk as Uint8Array));
  return Buffer.concat(parts);
}

async function rejectsWith(promise: Promise<unknown>, type: new (...args: never[]) => Error, what = ''): Promise<void> {
  await assert.rejects(promise, (err: unknown) => {
    assert.ok(err instanceof type, `${what}: expected ${type.name}, got ${String(err)}`);
    return true;
  });
}

async function listOrEmpty(driver: StorageDriver, path: string): Promise<string[]> {
  try {
    return await driver.list(path);
  } catch (err) {
    if (err instanceof PathNotFoundError) return [];
    throw err;
  }
}

const sha256 = (data: Uint8Array): string => createHash('sha256').update(data).digest('hex');

/** Optional capabilities the driver under test declares (src/storage/driver/README.md); the suite checks each. */
export interface DriverFeatures {
  /** The driver offers listFiles and listChildren (object stores). */
  listFiles?: boolean;
  /** Its writers offer writeBorrowed (done with each chunk when the call resolves). */
  writeBorrowed?: boolean;
  /** The driver offers statFile (object stores, where stat of a missing file also looks for a directory). */
  statFile?: boolean;
  /** The driver offers stagedWriter (object stores, whose moves copy). */
  stagedWriter?: boolean;
}

/**
 * The test functions the suite registers with, node:test's by default. Another runner's fit:
 * vitest's `{ describe, it, before: beforeAll, after: afterAll, beforeEach, afterEach }`, and
 * jest's the same way (its default 5 s timeout is short for the 32 MiB test).
 */
export interface TestRunner {
  describe(name: string, fn: () => void): unknown;
  it(name: string, fn: () => Promise<void> | void): unknown;
  before(fn: () => Promise<void> | void): unknown;
  after(fn: () => Promise<void> | void): unknown;
  beforeEach(fn: () => Promise<void> | void): unknown;
  afterEach(fn: () => Promise<void> | void): unknown;
}

export interface DriverSuiteOptions extends DriverFeatures {
  runner?: TestRunner;
}

/** Registers the suite under `storage driver suite: <name>`, with a fresh driver from `setup` for it. */
export function runDriverSuite(name: string, setup: () => Promise<DriverSetup>, options: DriverSuiteOptions = {}): void {
  const { describe, it, before, after, beforeEach, afterEach } = options.runner ?? nodeTest;
  const features: DriverFeatures = options;
  describe(`storage driver suite: ${name}`, () => {
    let driver: StorageDriver;
    let cleanup: () => Promise<void>;
    let rootBefore: string[];
    const base = `/berth-suite-${randomBytes(6).toString('hex')}`;
    let count = 0;
    let dir = '';

    before(async () => {
      ({ driver, cleanup } = await setup());
      rootBefore = await listOrEmpty(driver, '/');
    });
    beforeEach(() => {
      dir = `${base}/t${++count}`;
    });
    afterEach(async () => {
      await driver.delete(dir).catch((err: unknown) => {
        if (!(err instanceof PathNotFoundError)) throw err;
      });
      await rejectsWith(driver.stat(dir), PathNotFoundError, 'test folder after delete');
    });
    after(async () => {
      try {
        await driver.delete(base).catch((err: unknown) => {
          if (!(err instanceof PathNotFoundError)) throw err;
        });
        assert.deepEqual(await listOrEmpty(driver, '/'), rootBefore, 'leftover files at the root after the suite');
      } finally {
        await cleanup();
      }
    });

    const put = (p: string, s: string | Uint8Array) => driver.putContent(p, typeof s === 'string' ? Buffer.from(s) : s);
    const text = async (p: string) => (await driver.getContent(p)).toString();

    it('puts and gets content', async () => {
      const data = randomBytes(4096);
      await driver.putContent(`${dir}/file`, data);
      assert.ok((await driver.getContent(`${dir}/file`)).equals(data));
      const info = await driver.stat(`${dir}/file`);
      assert.equal(info.size, 4096);
      assert.equal(info.isDir, false);
      assert.equal(info.path, `${dir}/file`);
    });

    it('overwrites content, shorter and longer', async () => {
      await put(`${dir}/f`, 'a long first value');
      await put(`${dir}/f`, 'short');
      assert.equal(await text(`${dir}/f`), 'short');
      await put(`${dir}/f`, 'a longer third value');
      assert.equal(await text(`${dir}/f`), 'a longer third value');
      assert.equal((await driver.stat(`${dir}/f`)).size, 20);
    });

    // putContent copies; a writer owns its chunks until written (FileWriter.write), so it is not tested for that.
    it('putContent keeps its own copy of what it was given', async () => {
      const data = new Uint8Array([1, 2, 3]);
      await driver.putContent(`${dir}/copy`, data);
      data[0] = 9;
      assert.deepEqual([...(await driver.getContent(`${dir}/copy`))], [1, 2, 3]);
    });

    it('stores empty files', async () => {
      await put(`${dir}/empty`, '');
      assert.equal((await driver.getContent(`${dir}/empty`)).length, 0);
      assert.equal((await driver.stat(`${dir}/empty`)).size, 0);
      assert.equal((await readAll(await driver.reader(`${dir}/empty`))).length, 0);
      const w = await driver.writer(`${dir}/empty2`);
      assert.equal(w.size, 0);
      await w.commit();
      assert.equal((await driver.stat(`${dir}/empty2`)).size, 0);
    });

    it('streams a 32 MiB file through a writer and back', async () => {
      const block = randomBytes(8 * 1024 * 1024);
      const sizes = [1, 65536, 1024 * 1024 + 7, 333_333, 2 * 1024 * 1024, 4093];
      const total = 32 * 1024 * 1024;
      const hash = createHash('sha256');
      const w = await driver.writer(`${dir}/big/data`);
      let written = 0;
      for (let i = 0; written < total; i++) {
        const n = Math.min(sizes[i % sizes.length]!, total - written);
        const start = (written * 7) % (block.length - n);
        const chunk = block.subarray(start, start + n);
        hash.update(chunk);
        await w.write(chunk);
        written += n;
        assert.equal(w.size, written);
      }
      await w.commit();
      assert.equal((await driver.stat(`${dir}/big/data`)).size, total);
      const back = createHash('sha256');
      let got = 0;
      for await (const chunk of await driver.reader(`${dir}/big/data`)) {
        back.update(chunk as Buffer);
        got += (chunk as Buffer).length;
      }
      assert.equal(got, total);
      assert.equal(back.digest('hex'), hash.digest('hex'));
    });

    it('accepts every allowed character, long names and deep trees', async () => {
      const names = ['.hidden', '..double', '...', 'a.b', 'under_score', '-dash', 'a-b', '0123456789', 'MiXeD', 'z'.repeat(200)];
      for (const n of names) await put(`${dir}/${n}`, n);
      for (const n of names) assert.equal(await text(`${dir}/${n}`), n);
      assert.deepEqual(await driver.list(dir), names.map((n) => `${dir}/${n}`).sort());
      const deep = `${dir}/${Array.from({ length: 24 }, (_, i) => `d${i}`).join('/')}/leaf.txt`;
      await put(deep, 'deep');
      assert.equal(await text(deep), 'deep');
      assert.equal((await driver.stat(`${dir}/d0/d1/d2`)).isDir, true);
    });

    it('rejects invalid paths on every operation', async () => {
      const bad = ['', 'relative', `${dir}/trailing/`, '//double', `${dir}//x`, `${dir}/./x`, `${dir}/../x`, '/..', '/.',
        `${dir}/..`, `${dir}/sp ace`, `${dir}/colon:x`, `${dir}/\u00fc`, `${dir}/back\\slash`, `${dir}/nul\0`];
      for (const p of bad) {
        const ops: Array<[string, () => Promise<unknown>]> = [
          ['getContent', () => driver.getContent(p)],
          ['putContent', () => driver.putContent(p, Buffer.from('x'))],
          ['reader', () => driver.reader(p)],
          ['writer', () => driver.writer(p)],
          ['stat', () => driver.stat(p)],
          ['list', () => driver.list(p)],
          ['move from', () => driver.move(p, `${dir}/ok`)],
          ['move to', () => driver.move(`${dir}/ok`, p)],
          ['delete', () => driver.delete(p)],
          ['walk', () => driver.walk(p, () => undefined)],
          ['redirectURL', () => driver.redirectURL(p, { method: 'GET' })],
        ];
        for (const [op, call] of ops) await rejectsWith(call(), InvalidPathError, `${op}(${JSON.stringify(p)})`);
      }
      for (const call of [() => driver.getContent('/'), () => driver.putContent('/', Buffer.alloc(0)),
        () => driver.delete('/'), () => driver.writer('/'), () => driver.reader('/')]) {
        await rejectsWith(call(), InvalidPathError, 'root as a file');
      }
      assert.equal((await driver.stat('/')).isDir, true);
      assert.equal((await listOrEmpty(driver, `${dir}/ok`)).length, 0);
    });

    it('reads from offsets, with and without length', async () => {
      const data = randomBytes(1000);
      await driver.putContent(`${dir}/r`, data);
      const read = async (offset?: number, length?: number) => readAll(await driver.reader(`${dir}/r`, offset, length));
      assert.ok((await read()).equals(data));
      assert.ok((await read(0)).equals(data));
      assert.ok((await read(500)).equals(data.subarray(500)));
      assert.equal((await read(1000)).length, 0);
      assert.ok((await read(100, 50)).equals(data.subarray(100, 150)));
      assert.ok((await read(990, 50)).equals(data.subarray(990)));
      assert.equal((await read(10, 0)).length, 0);
      for (const [offset, length] of [[1001, undefined], [-1, undefined], [1.5, undefined], [0, -1], [0, 0.5]] as const) {
        await rejectsWith(driver.reader(`${dir}/r`, offset, length), InvalidOffsetError, `reader(${offset}, ${length})`);
      }
    });

    it('appends across several writers', async () => {
      const w1 = await driver.writer(`${dir}/a/log`);
      await w1.write(Buffer.from('abc'));
      assert.equal(w1.size, 3);
      await w1.close();
      const w2 = await driver.writer(`${dir}/a/log`, { append: true });
      assert.equal(w2.size, 3);
      await w2.write(Buffer.from('def'));
      assert.equal(w2.size, 6);
      await w2.close();
      assert.equal(await text(`${dir}/a/log`), 'abcdef');
      const w3 = await driver.writer(`${dir}/a/log`, { append: true });
      await w3.write(Buffer.from('ghi'));
      await w3.commit();
      await w3.close(); // closing after commit is harmless
      assert.equal(await text(`${dir}/a/log`), 'abcdefghi');
      assert.equal((await driver.stat(`${dir}/a/log`)).size, 9);
      await rejectsWith(w3.write(Buffer.from('x')), StorageDriverError, 'write after commit');
      await rejectsWith(w3.commit(), StorageDriverError, 'commit after commit');
    });

    it('starts afresh with append=false, and cancels', async () => {
      await put(`${dir}/f`, 'old content here');
      const w = await driver.writer(`${dir}/f`);
      await w.write(Buffer.from('new'));
      await w.commit();
      assert.equal(await text(`${dir}/f`), 'new');
      const c = await driver.writer(`${dir}/c`);
      await c.write(Buffer.from('doomed'));
      await c.cancel();
      await rejectsWith(driver.stat(`${dir}/c`), PathNotFoundError, 'cancelled file');
      await rejectsWith(c.write(Buffer.from('x')), StorageDriverError, 'write after cancel');
      const a = await driver.writer(`${dir}/f`, { append: true });
      await a.write(Buffer.from('more'));
      await a.cancel();
      await rejectsWith(driver.stat(`${dir}/f`), PathNotFoundError, 'cancelled append');
    });

    if (features.writeBorrowed) it('offers writeBorrowed on its writers', async () => {
      const w = await driver.writer(`${dir}/wb`);
      assert.equal(typeof w.writeBorrowed, 'function');
      await w.cancel();
    });

    it('takes an upload\'s reused blocks (writeBorrowed where offered, else copies to write): each is done with when its call resolves, after write() and across an append', async () => {
      const data = randomBytes(3 * 1024 * 1024 + 12_345);
      const sizes = [700_000, 1, 524_288, 65_536, 1_048_576 + 3];
      const reused = Buffer.alloc(1_048_576 + 3);
      // What uploads do (src/storage/uploads.ts pump) with a writer.
      const borrowed = (w: FileWriter) => (chunk: Uint8Array) => (w.writeBorrowed ? w.writeBorrowed(chunk) : w.write(Buffer.from(chunk)));
      const w = await driver.writer(`${dir}/wb/data`);
      await w.write(data.subarray(0, 1000)); // write() leaves chunks pending in some writers: they go first
      let off = 1000;
      for (let i = 0; off < data.length - 100_000; i++) {
        const n = Math.min(sizes[i % sizes.length]!, data.length - 100_000 - off);
        data.copy(reused, 0, off, off + n);
        await borrowed(w)(reused.subarray(0, n));
        reused.fill(0xee); // what the writer still held would now be wrong
        off += n;
        assert.equal(w.size, off);
      }
      await w.close();
      const a = await driver.writer(`${dir}/wb/data`, { append: true });
      data.copy(reused, 0, off);
      await borrowed(a)(reused.subarray(0, data.length - off));
      reused.fill(0xee);
      await a.commit();
      assert.equal(sha256(await driver.getContent(`${dir}/wb/data`)), sha256(data));
    });

    it('continues a file across writers ended by suspend (where offered, else close), as an upload\'s chunks are', async () => {
      const MiB = 1024 * 1024;
      const pieces = [7 * MiB + 3, 6 * MiB, MiB, 2 * MiB + 5].map((n) => randomBytes(n));
      const release = (w: FileWriter) => (w.suspend ? w.suspend() : w.close());
      const first = await driver.writer(`${dir}/up/data`);
      await first.commit();
      let size = 0;
      for (const piece of pieces) {
        const w = await driver.writer(`${dir}/up/data`, { append: true });
        assert.equal(w.size, size, 'size seen by the next writer');
        for (let at = 0; at < piece.length; at += 512 * 1024) await w.write(piece.subarray(at, at + 512 * 1024));
        size += piece.length;
        assert.equal(w.size, size);
        await release(w);
      }
      const idle = await driver.writer(`${dir}/up/data`, { append: true });
      assert.equal(idle.size, size);
      await release(idle); // nothing written: nothing changes
      const last = await driver.writer(`${dir}/up/data`, { append: true });
      assert.equal(last.size, size);
      await last.commit();
      assert.equal(sha256(await driver.getContent(`${dir}/up/data`)), sha256(Buffer.concat(pieces)));
      assert.equal((await driver.stat(`${dir}/up/data`)).size, size);
      if (driver.listPendingWrites) assert.deepEqual(await driver.listPendingWrites(`${dir}/up`), [], 'nothing left pending after the commit');
    });

    it(`${features.stagedWriter ? 'offers' : 'does not offer'} stagedWriter`, () => {
      assert.equal(typeof driver.stagedWriter, features.stagedWriter ? 'function' : 'undefined');
    });

    if (features.stagedWriter) it('shows a staged writer\'s content only once committed; cancel and close leave the path as it was', async () => {
      const MiB = 1024 * 1024;
      const big = randomBytes(12 * MiB + 7); // parts of a multipart upload on S3
      const small = randomBytes(3000); // one PutObject at commit
      const old = randomBytes(1000);
      const write = async (w: FileWriter, data: Buffer) => {
        for (let at = 0; at < data.length; at += 512 * 1024) await w.write(data.subarray(at, at + 512 * 1024));
      };
      for (const [name, data] of [['big', big], ['small', small]] as const) {
        const w = await driver.stagedWriter!(`${dir}/st/${name}`);
        await write(w, data);
        assert.equal(w.size, data.length);
        await rejectsWith(driver.stat(`${dir}/st/${name}`), PathNotFoundError, `${name} before its commit`);
        assert.deepEqual(await listOrEmpty(driver, `${dir}/st`), name === 'big' ? [] : [`${dir}/st/big`]);
        await w.commit();
        assert.equal(sha256(await driver.getContent(`${dir}/st/${name}`)), sha256(data), name);
      }
      await driver.putContent(`${dir}/st/old`, old);
      for (const end of ['cancel', 'close'] as const) {
        const w = await driver.stagedWriter!(`${dir}/st/old`);
        await write(w, big);
        assert.ok((await driver.getContent(`${dir}/st/old`)).equals(old), `before ${end}`);
        await w[end]();
        assert.ok((await driver.getContent(`${dir}/st/old`)).equals(old), `after ${end}`);
        await rejectsWith(w.commit(), StorageDriverError, `commit after ${end}`);
      }
      if (driver.listPendingWrites) assert.deepEqual(await driver.listPendingWrites(`${dir}/st`), [], 'nothing left pending');
    });

    it('runs concurrent writers on different paths', async () => {
      const datas = Array.from({ length: 6 }, () => randomBytes(300_000));
      const writers = await Promise.all(datas.map((_, i) => driver.writer(`${dir}/c${i}/data`)));
      for (let off = 0; off < 300_000; off += 50_000) {
        await Promise.all(writers.map((w, i) => w.write(datas[i]!.subarray(off, off + 50_000))));
      }
      await Promise.all(writers.map((w) => w.commit()));
      for (const [i, d] of datas.entries()) assert.ok((await driver.getContent(`${dir}/c${i}/data`)).equals(d));
    });

    it('leaves one whole value after concurrent putContent to one path', async () => {
      const values = Array.from({ length: 8 }, () => randomBytes(256 * 1024));
      await Promise.all(values.map((v) => driver.putContent(`${dir}/same`, v)));
      const got = sha256(await driver.getContent(`${dir}/same`));
      assert.ok(values.some((v) => sha256(v) === got), 'content is one of the values written');
      assert.deepEqual(await driver.list(dir), [`${dir}/same`]);
    });

    it('stats files and implicit directories', async () => {
      await put(`${dir}/x/y/z`, '12345');
      const file = await driver.stat(`${dir}/x/y/z`);
      assert.deepEqual([file.path, file.size, file.isDir], [`${dir}/x/y/z`, 5, false]);
      assert.ok(file.modTime instanceof Date && !Number.isNaN(file.modTime.getTime()));
      for (const p of [`${dir}/x`, `${dir}/x/y`]) {
        const d = await driver.stat(p);
        assert.deepEqual([d.path, d.size, d.isDir], [p, 0, true]);
      }
      await rejectsWith(driver.stat(`${dir}/x/y/nope`), PathNotFoundError, 'missing');
      await rejectsWith(driver.stat(`${dir}/x/y/z/under-file`), PathNotFoundError, 'under a file');
    });

    it(`${features.statFile ? 'offers' : 'does not offer'} statFile`, () => {
      assert.equal(typeof driver.statFile, features.statFile ? 'function' : 'undefined');
    });

    if (features.statFile) it('stats a file alone with statFile: a directory there is no file', async () => {
      await put(`${dir}/x/y/z`, '12345');
      const file = await driver.statFile!(`${dir}/x/y/z`);
      assert.deepEqual([file.path, file.size, file.isDir], [`${dir}/x/y/z`, 5, false]);
      assert.ok(file.modTime instanceof Date && !Number.isNaN(file.modTime.getTime()));
      for (const p of [`${dir}/x/y`, `${dir}/x/y/nope`, `${dir}/x/y/z/under-file`]) await rejectsWith(driver.statFile!(p), PathNotFoundError, `statFile(${p})`);
    });

    it('lists direct children sorted', async () => {
      for (const n of ['b', 'a', 'c/x', 'c/y/z', 'a-b', 'a.b', 'B']) await put(`${dir}/${n}`, n);
      assert.deepEqual(await driver.list(dir), ['B', 'a', 'a-b', 'a.b', 'b', 'c'].map((n) => `${dir}/${n}`));
      assert.deepEqual(await driver.list(`${dir}/c`), [`${dir}/c/x`, `${dir}/c/y`]);
      assert.ok((await driver.list(base)).includes(dir));
      assert.ok((await driver.list('/')).includes(base));
      await rejectsWith(driver.list(`${dir}/nope`), PathNotFoundError, 'missing dir');
      await rejectsWith(driver.list(`${dir}/a`), PathNotFoundError, 'a file');
      await rejectsWith(driver.list(`${dir}/c/x/under-file`), PathNotFoundError, 'under a file');
    });

    it('moves files, creating folders and replacing the destination', async () => {
      await put(`${dir}/src`, 'payload');
      await driver.move(`${dir}/src`, `${dir}/new/deep/dest`);
      assert.equal(await text(`${dir}/new/deep/dest`), 'payload');
      await rejectsWith(driver.stat(`${dir}/src`), PathNotFoundError, 'moved source');
      await put(`${dir}/other`, 'replacement');
      await driver.move(`${dir}/other`, `${dir}/new/deep/dest`);
      assert.equal(await text(`${dir}/new/deep/dest`), 'replacement');
      await rejectsWith(driver.move(`${dir}/missing`, `${dir}/x`), PathNotFoundError, 'missing source');
      await rejectsWith(driver.stat(`${dir}/x`), PathNotFoundError, 'no dest from a failed move');
      // With the source's size given, as a verified upload's move gives it.
      await put(`${dir}/sized`, 'sized payload');
      await driver.move(`${dir}/sized`, `${dir}/new/sized`, { size: 13 });
      assert.equal(await text(`${dir}/new/sized`), 'sized payload');
      await rejectsWith(driver.stat(`${dir}/sized`), PathNotFoundError, 'moved sized source');
      await rejectsWith(driver.move(`${dir}/missing`, `${dir}/y`, { size: 13 }), PathNotFoundError, 'missing source with a size');
      await rejectsWith(driver.stat(`${dir}/y`), PathNotFoundError, 'no dest from a failed sized move');
    });

    it('deletes files and trees, and only them', async () => {
      for (const n of ['f', 't/1', 't/2/3', 't/2/4', 'tt/keep', 't-keep', 't.keep']) await put(`${dir}/${n}`, n);
      await driver.delete(`${dir}/f`);
      await rejectsWith(driver.getContent(`${dir}/f`), PathNotFoundError, 'deleted file');
      await driver.delete(`${dir}/t`);
      for (const p of ['t', 't/1', 't/2', 't/2/3']) await rejectsWith(driver.stat(`${dir}/${p}`), PathNotFoundError, p);
      assert.deepEqual(await driver.list(dir), [`${dir}/t-keep`, `${dir}/t.keep`, `${dir}/tt`]);
      assert.equal(await text(`${dir}/tt/keep`), 'tt/keep');
      await rejectsWith(driver.delete(`${dir}/t`), PathNotFoundError, 'deleted twice');
      await rejectsWith(driver.delete(`${dir}/nothing/here`), PathNotFoundError, 'never there');
      // Told that no write is pending there, files and trees go all the same.
      for (const n of ['g', 'u/1', 'u/2/3']) await put(`${dir}/${n}`, n);
      await driver.delete(`${dir}/g`, { pendingWrites: false });
      await driver.delete(`${dir}/u`, { pendingWrites: false });
      for (const p of ['g', 'u', 'u/1', 'u/2/3']) await rejectsWith(driver.stat(`${dir}/${p}`), PathNotFoundError, `${p} deleted without a look for pending writes`);
      await rejectsWith(driver.delete(`${dir}/u`, { pendingWrites: false }), PathNotFoundError, 'never there, no look for pending writes');
    });

    it('walks depth-first in lexical order, with skip, stop and startAfter', async () => {
      for (const n of ['b', 'a/c', 'a/b/1', 'a/b/2', 'a-z', 'a.y/q']) await put(`${dir}/${n}`, n);
      const order = ['a', 'a/b', 'a/b/1', 'a/b/2', 'a/c', 'a-z', 'a.y', 'a.y/q', 'b'];
      const dirs = new Set(['a', 'a/b', 'a.y']);
      const walk = async (fn: (rel: string) => WalkResult = () => undefined, startAfter?: string) => {
        const seen: FileInfo[] = [];
        const visit = (info: FileInfo): WalkResult => {
          seen.push(info);
          return fn(info.path.slice(dir.length + 1));
        };
        await driver.walk(dir, visit, startAfter === undefined ? {} : { startAfter: `${dir}/${startAfter}` });
        return seen;
      };
      const all = await walk();
      assert.deepEqual(all.map((i) => i.path), order.map((n) => `${dir}/${n}`));
      for (const i of all) assert.equal(i.isDir, dirs.has(i.path.slice(dir.length + 1)), i.path);
      assert.equal(all.find((i) => i.path === `${dir}/a/b/1`)?.size, 5);
      const skipped = await walk((rel) => (rel === 'a' || rel === 'a.y' ? 'skip' : undefined));
      assert.deepEqual(skipped.map((i) => i.path), ['a', 'a-z', 'a.y', 'b'].map((n) => `${dir}/${n}`));
      const stopped = await walk((rel) => (rel === 'a/b/1' ? 'stop' : undefined));
      assert.deepEqual(stopped.map((i) => i.path), ['a', 'a/b', 'a/b/1'].map((n) => `${dir}/${n}`));
      // startAfter is a hint: every entry after it must come, in order; earlier ones may.
      const resumed = (await walk(undefined, 'a/b/2')).map((i) => i.path.slice(dir.length + 1));
      assert.deepEqual(resumed.filter((r) => order.indexOf(r) > order.indexOf('a/b/2')), ['a/c', 'a-z', 'a.y', 'a.y/q', 'b']);
      assert.deepEqual(resumed, order.filter((r) => resumed.includes(r)));
      const boom = new Error('visitor failed');
      await assert.rejects(driver.walk(dir, () => { throw boom; }), (err) => err === boom);
      await rejectsWith(driver.walk(`${dir}/missing`, () => undefined), PathNotFoundError, 'walk missing');
      await rejectsWith(driver.walk(`${dir}/b`, () => undefined), PathNotFoundError, 'walk a file');
    });

    it(`${features.listFiles ? 'offers' : 'does not offer'} listFiles and listChildren`, () => {
      assert.equal(typeof driver.listFiles, features.listFiles ? 'function' : 'undefined');
      assert.equal(typeof driver.listChildren, features.listFiles ? 'function' : 'undefined');
    });

    if (features.listFiles) it('lists a folder\'s children, folders with a trailing slash, in byte order', async () => {
      for (const n of ['b', 'a/c', 'a/b/1', 'a-z', 'a.y/q', 'a']) await put(`${dir}/d/${n === 'a' ? 'file-a' : n}`, n);
      await put(`${dir}/dx/not-below`, 'x');
      const pages: string[][] = [];
      for await (const page of driver.listChildren!(`${dir}/d`)) pages.push(page);
      assert.deepEqual(pages.flat(), ['a-z', 'a.y/', 'a/', 'b', 'file-a']);
      // `after` is a hint: what sorts after it must all come, in order; earlier entries may.
      const resumed: string[] = [];
      for await (const page of driver.listChildren!(`${dir}/d`, 'a.y/')) resumed.push(...page);
      assert.deepEqual(resumed.filter((e) => e > 'a.y/'), ['a/', 'b', 'file-a']);
      assert.deepEqual(resumed, [...resumed].sort());
      const missing: string[][] = [];
      for await (const page of driver.listChildren!(`${dir}/missing`)) missing.push(page);
      assert.deepEqual(missing.flat(), []);
    });

    if (features.listFiles) it('lists every file below a path in byte order, page by page', async () => {
      for (const n of ['b', 'a/c', 'a/b/1', 'a-z', 'a.y/q']) await put(`${dir}/${n}`, n);
      await put(`${dir}x/not-below`, 'x');
      try {
        const pages: string[][] = [];
        for await (const page of driver.listFiles!(dir)) pages.push(page);
        assert.deepEqual(pages.flat(), ['a-z', 'a.y/q', 'a/b/1', 'a/c', 'b'].map((n) => `${dir}/${n}`));
        const missing: string[][] = [];
        for await (const page of driver.listFiles!(`${dir}/missing`)) missing.push(page);
        assert.deepEqual(missing.flat(), []);
      } finally {
        await driver.delete(`${dir}x`);
      }
    });

    it('reports PathNotFoundError for missing paths on every operation', async () => {
      await put(`${dir}/file`, 'x');
      for (const p of [`${dir}/missing`, `${dir}/file/child`, `${dir}/no/such/dir/file`]) {
        const ops: Array<[string, () => Promise<unknown>]> = [
          ['getContent', () => driver.getContent(p)],
          ['reader', () => driver.reader(p)],
          ['reader at offset', () => driver.reader(p, 10)],
          ['writer append', () => driver.writer(p, { append: true })],
          ['stat', () => driver.stat(p)],
          ['list', () => driver.list(p)],
          ['move', () => driver.move(p, `${dir}/dest`)],
          ['delete', () => driver.delete(p)],
          ['walk', () => driver.walk(p, () => undefined)],
        ];
        for (const [op, call] of ops) await rejectsWith(call(), PathNotFoundError, `${op}(${p})`);
      }
      await rejectsWith(driver.getContent(dir), PathNotFoundError, 'getContent of a directory');
      await rejectsWith(driver.reader(dir), PathNotFoundError, 'reader of a directory');
      assert.deepEqual(await driver.list(dir), [`${dir}/file`]);
    });

    it('returns a redirect URL or undefined', async () => {
      await put(`${dir}/r`, 'x');
      const url = await driver.redirectURL(`${dir}/r`, { method: 'GET', expiresIn: 60 });
      assert.ok(url === undefined || typeof url === 'string');
    });
  });
}
