import assert from 'node:assert/strict';
import { mkdir, mkdtemp, readdir, readFile, rm, stat, symlink, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, beforeEach, describe, it } from 'node:test';
import { execFile } from 'node:child_process';
import { randomBytes, randomFillSync } from 'node:crypto';
import { promisify } from 'node:util';
import { alignedBuffers } from '../../src/storage/driver/aligned-memory.js';
import { InvalidPathError, PathNotFoundError } from '../../src/storage/driver/errors.js';
import { createDriver } from '../../src/storage/driver/factory.js';
import { parseFilesystemParameters, TEMP_DIR } from '../../src/storage/driver/filesystem.js';
import type { StorageDriver } from '../../src/storage/driver/types.js';
import { runDriverSuite } from '../../src/testing/index.js';

const run = promisify(execFile);

runDriverSuite('filesystem', async () => {
  const root = await mkdtemp(path.join(tmpdir(), 'berth-fs-suite-'));
  return {
    driver: await createDriver('filesystem', { rootdirectory: root }),
    cleanup: () => rm(root, { recursive: true, force: true }),
  };
}, { writeBorrowed: true });

// tmpfs refuses O_DIRECT: the same suite with every write through the page cache.
runDriverSuite('filesystem on tmpfs (direct writes refused)', async () => {
  const root = await mkdtemp(path.join('/dev/shm', 'berth-fs-suite-'));
  return {
    driver: await createDriver('filesystem', { rootdirectory: root }),
    cleanup: () => rm(root, { recursive: true, force: true }),
  };
}, { writeBorrowed: true });

describe('filesystem driver: its own matters', () => {
  let work: string;
  let root: string;
  let outside: string;
  let driver: StorageDriver;

  before(async () => {
    work = await mkdtemp(path.join(tmpdir(), 'berth-fs-own-'));
  });
  after(() => rm(work, { recursive: true, force: true }));
  beforeEach(async () => {
    const box = await mkdtemp(path.join(work, 'case-'));
    root = path.join(box, 'root');
    outside = path.join(box, 'outside');
    await mkdir(outside, { recursive: true });
    await writeFile(path.join(outside, 'secret'), 'secret');
    driver = await createDriver('filesystem', { rootdirectory: root });
  });

  it('maps driver paths onto rootdirectory + path', async () => {
    await driver.putContent('/docker/registry/v2/repositories/x/link', Buffer.from('sha256:abc'));
    assert.equal(await readFile(path.join(root, 'docker/registry/v2/repositories/x/link'), 'utf8'), 'sha256:abc');
    await mkdir(path.join(root, 'docker/made/outside'), { recursive: true });
    await writeFile(path.join(root, 'docker/made/outside/f'), 'by hand');
    assert.equal((await driver.getContent('/docker/made/outside/f')).toString(), 'by hand');
  });

  it('keeps temp files out of sight and leaves none behind', async () => {
    for (let i = 0; i < 5; i++) await driver.putContent(`/docker/f${i}`, Buffer.from(`v${i}`));
    const w = await driver.writer('/docker/w');
    await w.write(Buffer.from('w'));
    await w.commit();
    assert.ok((await stat(path.join(root, TEMP_DIR))).isDirectory());
    assert.deepEqual(await readdir(path.join(root, TEMP_DIR)), [], 'no temp file left');
    assert.deepEqual(await driver.list('/'), ['/docker']);
    const seen: string[] = [];
    await driver.walk('/', (info) => {
      seen.push(info.path);
    });
    assert.ok(seen.length === 7 && seen.every((p) => p.startsWith('/docker')), seen.join(','));
    for (const p of [`/${TEMP_DIR}`, `/${TEMP_DIR}/x`]) {
      await assert.rejects(driver.getContent(p), InvalidPathError);
      await assert.rejects(driver.putContent(p, Buffer.from('x')), InvalidPathError);
      await assert.rejects(driver.list(p), InvalidPathError);
      await assert.rejects(driver.delete(p), InvalidPathError);
    }
  });

  it('removes stale temp files when it starts', async () => {
    const temp = path.join(root, TEMP_DIR);
    await mkdir(temp, { recursive: true });
    await writeFile(path.join(temp, 'old.tmp'), 'old');
    await writeFile(path.join(temp, 'fresh.tmp'), 'fresh');
    const twoDaysAgo = new Date(Date.now() - 2 * 24 * 3600 * 1000);
    await utimes(path.join(temp, 'old.tmp'), twoDaysAgo, twoDaysAgo);
    await createDriver('filesystem', { rootdirectory: root });
    assert.deepEqual(await readdir(temp), ['fresh.tmp']);
  });

  it('follows symbolic links by default, as Distribution does (e.g. a folder on another disk)', async () => {
    await mkdir(root, { recursive: true });
    await symlink(outside, path.join(root, 'docker-out'));
    assert.equal((await driver.getContent('/docker-out/secret')).toString(), 'secret');
    await driver.putContent('/docker-out/new', Buffer.from('x'));
    assert.equal(await readFile(path.join(outside, 'new'), 'utf8'), 'x');
  });

  it('with confinesymlinks, never reaches outside the root through symbolic links', async () => {
    driver = await createDriver('filesystem', { rootdirectory: root, confinesymlinks: true });
    await driver.putContent('/docker/inside/real', Buffer.from('inside'));
    await symlink(outside, path.join(root, 'docker/out-dir'));
    await symlink(path.join(outside, 'secret'), path.join(root, 'docker/out-file'));
    await symlink(path.join(root, 'docker/inside'), path.join(root, 'docker/in-dir'));
    for (const p of ['/docker/out-dir/secret', '/docker/out-file', '/docker/out-dir']) {
      await assert.rejects(driver.getContent(p), PathNotFoundError, p);
      await assert.rejects(driver.reader(p), PathNotFoundError, p);
      await assert.rejects(driver.stat(p), PathNotFoundError, p);
      await assert.rejects(driver.writer(p, { append: true }), PathNotFoundError, p);
    }
    await assert.rejects(driver.list('/docker/out-dir'), PathNotFoundError);
    await assert.rejects(driver.walk('/docker/out-dir', () => undefined), PathNotFoundError);
    await assert.rejects(driver.putContent('/docker/out-dir/new', Buffer.from('x')), PathNotFoundError);
    await assert.rejects(driver.writer('/docker/out-dir/new'), PathNotFoundError);
    await assert.rejects(driver.delete('/docker/out-dir/secret'), PathNotFoundError);
    await assert.rejects(driver.move('/docker/out-dir/secret', '/docker/stolen'), PathNotFoundError);
    await assert.rejects(driver.move('/docker/inside/real', '/docker/out-dir/planted'), PathNotFoundError);
    assert.deepEqual(await driver.list('/docker'), ['/docker/in-dir', '/docker/inside']);
    const walked: string[] = [];
    await driver.walk('/docker', (i) => {
      walked.push(i.path);
    });
    assert.deepEqual(walked, ['/docker/in-dir', '/docker/in-dir/real', '/docker/inside', '/docker/inside/real']);
    assert.equal((await driver.getContent('/docker/in-dir/real')).toString(), 'inside');
    await symlink(path.join(root, 'docker'), path.join(root, 'docker/inside/loop'));
    const looped: string[] = [];
    await driver.walk('/docker/inside', (i) => {
      looped.push(i.path);
    });
    assert.deepEqual(looped, ['/docker/inside/real'], 'a link to an ancestor is not walked into');
    await driver.delete('/docker/inside/loop');
    // Writing a new file at a link's path replaces the link; the target is untouched.
    const w = await driver.writer('/docker/out-file');
    await w.write(Buffer.from('mine'));
    await w.commit();
    assert.equal((await driver.getContent('/docker/out-file')).toString(), 'mine');
    await driver.delete('/docker/out-dir'); // removes the link only
    assert.deepEqual(await readdir(outside), ['secret']);
    assert.equal(await readFile(path.join(outside, 'secret'), 'utf8'), 'secret');
  });

  it('deletes a tree with the links in it, never what they point at', async () => {
    await driver.putContent('/docker/tree/a/b/file', Buffer.from('1'));
    await driver.putContent('/docker/tree/top', Buffer.from('2'));
    await symlink(outside, path.join(root, 'docker/tree/a/dir-link'));
    await symlink(path.join(outside, 'secret'), path.join(root, 'docker/tree/file-link'));
    await driver.delete('/docker/tree');
    assert.deepEqual(await readdir(path.join(root, 'docker')), []);
    assert.deepEqual(await readdir(outside), ['secret']);
    assert.equal(await readFile(path.join(outside, 'secret'), 'utf8'), 'secret');
    await assert.rejects(driver.delete('/docker/tree'), PathNotFoundError);
  });

  it('deletes a link to a folder as the link, and a path under a file as absent', async () => {
    await mkdir(path.join(root, 'docker'), { recursive: true });
    await symlink(outside, path.join(root, 'docker/dir-link'));
    await driver.delete('/docker/dir-link');
    assert.deepEqual(await readdir(path.join(root, 'docker')), []);
    assert.deepEqual(await readdir(outside), ['secret']);
    await driver.putContent('/docker/file', Buffer.from('1'));
    await assert.rejects(driver.delete('/docker/file/below'), PathNotFoundError);
    assert.equal(await readFile(path.join(root, 'docker/file'), 'utf8'), '1');
  });

  it('puts content under missing folders and beside existing ones, never into a file', async () => {
    await driver.putContent('/docker/deep/a/b/c', Buffer.from('1'));
    await driver.putContent('/docker/deep/a/b/d', Buffer.from('2'));
    await driver.putContent('/docker/deep/a/e', Buffer.from('3'));
    assert.deepEqual(await readdir(path.join(root, 'docker/deep/a')), ['b', 'e']);
    await assert.rejects(driver.putContent('/docker/deep/a/e/f', Buffer.from('4')), /ENOTDIR|EEXIST/);
    assert.equal(await readFile(path.join(root, 'docker/deep/a/e'), 'utf8'), '3');
    assert.deepEqual(await readdir(path.join(root, TEMP_DIR)), [], 'the failed write left no temp file');
  });

  it('reads its parameters as Distribution does', () => {
    assert.deepEqual(parseFilesystemParameters({}), { rootDirectory: '/var/lib/registry', maxThreads: 100, fsync: false, confineSymlinks: false, directWrites: true });
    assert.equal(parseFilesystemParameters({ directwrites: 'false' }).directWrites, false);
    assert.throws(() => parseFilesystemParameters({ directwrites: 'sometimes' }), /directwrites/);
    assert.equal(parseFilesystemParameters({ maxthreads: 5 }).maxThreads, 25);
    assert.equal(parseFilesystemParameters({ maxthreads: '200' }).maxThreads, 200);
    assert.equal(parseFilesystemParameters({ fsync: 'true' }).fsync, true);
    assert.throws(() => parseFilesystemParameters({ maxthreads: 'many' }), /maxthreads/);
    assert.throws(() => parseFilesystemParameters({ rootdirectory: 42 }), /rootdirectory/);
    assert.throws(() => parseFilesystemParameters({ fsync: 'maybe' }), /fsync/);
  });

  it('works without fsync and with the smallest maxthreads', async () => {
    const fast = await createDriver('filesystem', { rootdirectory: root, fsync: false, maxthreads: 25 });
    await Promise.all(Array.from({ length: 60 }, (_, i) => fast.putContent(`/docker/n/${i}`, Buffer.from(String(i)))));
    assert.equal((await fast.list('/docker/n')).length, 60);
    assert.equal((await fast.getContent('/docker/n/59')).toString(), '59');
  });

  /** Bytes of `file` in the page cache (util-linux fincore). */
  async function cached(file: string): Promise<number> {
    const { stdout } = await run('fincore', ['--bytes', '--noheadings', '--output', 'RES', file]);
    return Number(stdout.trim());
  }

  /** 4 MiB and 1,234 bytes in odd pieces, then 3 MiB and 7 bytes more through a writer that appends. */
  async function writeLarge(d: StorageDriver, p: string): Promise<Buffer> {
    const first = randomBytes(4 * 1024 * 1024 + 1234);
    const second = randomBytes(3 * 1024 * 1024 + 7);
    let w = await d.writer(p);
    for (let at = 0; at < first.length; at += 300_001) await w.write(first.subarray(at, at + 300_001));
    await w.close();
    w = await d.writer(p, { append: true });
    await w.writeBorrowed!(second.subarray(0, 512 * 1024));
    await w.write(second.subarray(512 * 1024));
    await w.commit();
    return Buffer.concat([first, second]);
  }

  it('writes large data past the page cache (O_DIRECT), byte for byte, appends at odd sizes included', async () => {
    const data = await writeLarge(driver, '/docker/big');
    const file = path.join(root, 'docker/big');
    const resident = await cached(file);
    assert.ok((await readFile(file)).equals(data), 'content as written');
    assert.ok((await driver.getContent('/docker/big')).equals(data));
    // Only the unaligned edges (at most a page at each) went through the page cache.
    assert.ok(resident <= 4 * 4096, `${resident} bytes of ${data.length} in the page cache right after the write`);
  });

  it('writes page-aligned blocks (an upload\'s) past the page cache from where they are, more at once than it has staging buffers', async () => {
    const files = 12;
    const blocks = alignedBuffers(files * 2, 512 * 1024)!;
    for (const block of blocks) randomFillSync(block);
    const writers = await Promise.all(Array.from({ length: files }, (_, i) => driver.writer(`/docker/many/${i}`)));
    await Promise.all(writers.map((w, i) => w.writeBorrowed!(blocks[2 * i]!)));
    await Promise.all(writers.map((w, i) => w.writeBorrowed!(blocks[2 * i + 1]!.subarray(0, 300_000))));
    await Promise.all(writers.map((w) => w.commit()));
    for (let i = 0; i < files; i++) {
      const file = path.join(root, `docker/many/${i}`);
      const resident = await cached(file);
      assert.ok(resident <= 4096, `${resident} bytes of file ${i} in the page cache`);
      assert.ok((await readFile(file)).equals(Buffer.concat([blocks[2 * i]!, blocks[2 * i + 1]!.subarray(0, 300_000)])));
    }
  });

  it('with directwrites: false, writes go through the page cache', async () => {
    const buffered = await createDriver('filesystem', { rootdirectory: root, directwrites: false });
    const data = await writeLarge(buffered, '/docker/big');
    const file = path.join(root, 'docker/big');
    assert.equal(await cached(file), Math.ceil(data.length / 4096) * 4096);
    assert.ok((await readFile(file)).equals(data));
  });
});
