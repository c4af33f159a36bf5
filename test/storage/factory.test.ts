import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { describe, it } from 'node:test';
import { isValidPath, wrapDriver, type OperationEvent } from '../../src/storage/driver/base.js';
import { RestError } from '@azure/storage-blob';
import { InvalidPathError, PathNotFoundError, StorageDriverError, StorageFullError, StorageUnavailableError } from '../../src/storage/driver/errors.js';
import { createDriver, registerDriver, registeredDrivers } from '../../src/storage/driver/factory.js';
import { createFilesystemDriver } from '../../src/storage/driver/filesystem.js';
import { InMemoryDriver } from '../../src/storage/driver/inmemory.js';
import type { FileWriter, PendingWrite, StorageDriver, WriterOptions } from '../../src/storage/driver/types.js';

describe('driver factory', () => {
  it('knows the built-in drivers', () => {
    const names = registeredDrivers();
    assert.ok(names.includes('filesystem') && names.includes('inmemory'), names.join(','));
  });

  it('names the driver and the known ones when the name is unknown', async () => {
    await assert.rejects(createDriver('s4', {}), (err: Error) => {
      assert.match(err.message, /"s4"/);
      assert.match(err.message, /filesystem/);
      assert.match(err.message, /inmemory/);
      return true;
    });
  });

  it('registers new drivers once, and wraps what they build', async () => {
    registerDriver('factory-test', () => new InMemoryDriver());
    assert.throws(() => registerDriver('factory-test', () => new InMemoryDriver()), /already registered/);
    const driver = await createDriver('factory-test', {});
    await assert.rejects(driver.getContent('no-slash'), InvalidPathError);
  });
});

describe('base wrapper', () => {
  /** A driver whose every operation fails with a plain error, or a visitor's error. */
  const failing: StorageDriver = new (class extends InMemoryDriver {
    override async getContent(): Promise<Buffer> {
      throw new Error('disk on fire');
    }
    override async stat(path: string): Promise<never> {
      throw new PathNotFoundError(this.name, path);
    }
    override async reader(): Promise<Readable> {
      throw 'a string';
    }
  })();

  it('checks paths, with "." and ".." components refused', () => {
    for (const p of ['/a', '/a/b.c/-d_e', '/.a', '/..a', '/...', '/a..']) assert.ok(isValidPath(p), p);
    for (const p of ['', 'a', '/', '/a/', '//a', '/a/./b', '/a/../b', '/.', '/..', '/a b']) assert.ok(!isValidPath(p), p);
    for (const p of [undefined, null, 42, ['/a'], { toString: () => '/a' }]) assert.ok(!isValidPath(p) && !isValidPath(p, { root: true }), String(p));
    assert.ok(isValidPath('/', { root: true }));
  });

  it('keeps driver errors and normalises the rest, naming the driver', async () => {
    const driver = wrapDriver(failing);
    assert.equal(wrapDriver(driver), driver, 'wrapping twice returns the same wrapper');
    await assert.rejects(driver.stat('/x'), PathNotFoundError);
    await assert.rejects(driver.getContent('/x'), (err: unknown) => {
      assert.ok(err instanceof StorageDriverError && !(err instanceof PathNotFoundError));
      assert.equal(err.driver, 'inmemory');
      assert.match(err.message, /inmemory: getContent \/x: disk on fire/);
      assert.ok(err.cause instanceof Error);
      return true;
    });
    await assert.rejects(driver.reader('/x'), (err: unknown) => err instanceof StorageDriverError && /a string/.test(err.message));
  });

  it('reports each operation to the metrics hook', async () => {
    const events: OperationEvent[] = [];
    const driver = wrapDriver(new InMemoryDriver(), {
      onOperation: (e) => {
        events.push(e);
        throw new Error('a broken hook is ignored');
      },
    });
    await driver.putContent('/m/a', Buffer.from('x'));
    await assert.rejects(driver.getContent('/m/b'), PathNotFoundError);
    const w = await driver.writer('/m/c');
    await w.write(Buffer.from('y'));
    await w.commit();
    await driver.reader('/m/c', 0);
    await driver.stat('/m');
    await driver.list('/m');
    await driver.walk('/m', () => undefined);
    await driver.move('/m/c', '/m/d');
    await driver.redirectURL('/m/d', { method: 'GET' });
    await driver.delete('/m/d');
    assert.deepEqual(
      events.map((e) => `${e.operation} ${e.path} ${e.error ? 'failed' : 'ok'}`),
      ['putContent /m/a ok', 'getContent /m/b failed', 'writer /m/c ok', 'writer.write /m/c ok', 'writer.commit /m/c ok',
        'reader /m/c ok', 'stat /m ok', 'list /m ok', 'walk /m ok', 'move /m/c ok', 'redirectURL /m/d ok', 'delete /m/d ok'],
    );
    assert.ok(events.every((e) => e.driver === 'inmemory' && e.durationMs >= 0));
  });

  /** The operations a driver's hook saw, as "operation path ok|failed", and the wall time they took together. */
  function recorded(inner: StorageDriver) {
    const events: OperationEvent[] = [];
    const driver = wrapDriver(inner, { onOperation: (e) => events.push(e) });
    const seen = () => events.map((e) => `${e.operation} ${e.path} ${e.error ? 'failed' : 'ok'}`);
    return { driver, events, seen };
  }

  it('reports each writer call and times operations by the clock', async () => {
    const { driver, events, seen } = recorded(new InMemoryDriver());
    const started = performance.now();
    const a = await driver.writer('/w/a');
    await a.writeBorrowed!(Buffer.from('ab'));
    await a.close();
    const b = await driver.writer('/w/a', { append: true });
    assert.equal(b.size, 2);
    await b.write(Buffer.from('c'));
    await b.cancel();
    const elapsed = performance.now() - started;
    assert.deepEqual(seen(), ['writer /w/a ok', 'writer.write /w/a ok', 'writer.close /w/a ok', 'writer /w/a ok', 'writer.write /w/a ok', 'writer.cancel /w/a ok']);
    await assert.rejects(driver.stat('/w/a'), PathNotFoundError, 'cancelled');
    for (const e of events) assert.ok(e.durationMs >= 0 && e.durationMs <= elapsed, `${e.operation}: ${e.durationMs} ms of ${elapsed}`);
    // A driver whose writers have no writeBorrowed gets wrapped writers without one.
    const plain = new (class extends InMemoryDriver {
      override async writer(p: string, options?: WriterOptions): Promise<FileWriter> {
        const w = await super.writer(p, options);
        return { get size() { return w.size; }, write: (c) => w.write(c), close: () => w.close(), cancel: () => w.cancel(), commit: () => w.commit() };
      }
    })();
    assert.equal((await wrapDriver(plain).writer('/w/b')).writeBorrowed, undefined);
  });

  it('turns a full device and an unreachable store into their own errors, from any backend', async () => {
    const fault = (err: unknown) => wrapDriver(new (class extends InMemoryDriver {
      override async putContent(): Promise<void> {
        throw err;
      }
    })());
    const errno = (code: string) => Object.assign(new Error(`write failed: ${code}`), { code });
    await assert.rejects(fault(errno('ENOSPC')).putContent('/x', Buffer.from('x')), StorageFullError);
    const unreachable: Array<[string, unknown]> = [
      ['a refused connection', errno('ECONNREFUSED')],
      ['the AWS SDK timing out', Object.assign(new Error('timed out'), { name: 'TimeoutError' })],
      ['the Azure SDK with the socket code', new RestError('socket hang up', { code: 'ECONNRESET' })],
      ['the Azure SDK sending nothing', new RestError('request failed', { code: RestError.REQUEST_SEND_ERROR })],
    ];
    for (const [what, err] of unreachable) {
      await assert.rejects(fault(err).putContent('/x', Buffer.from('x')), (e: unknown) => e instanceof StorageUnavailableError && e.cause === err && /did not answer/.test(e.message), what);
    }
    // An answer from the store is not an outage.
    await assert.rejects(fault(new RestError('forbidden', { statusCode: 403, code: 'AuthorizationFailure' })).putContent('/x', Buffer.from('x')),
      (e: unknown) => e instanceof StorageDriverError && !(e instanceof StorageUnavailableError));
  });

  it('passes a walk visitor\'s error through as it is, and normalises the driver\'s own', async () => {
    const driver = wrapDriver(new InMemoryDriver());
    await driver.putContent('/t/a', Buffer.from('a'));
    const mine = new Error('visitor stops here');
    await assert.rejects(driver.walk('/t', () => { throw mine; }), (err: unknown) => err === mine);
    const broken = wrapDriver(new (class extends InMemoryDriver {
      override async walk(): Promise<void> {
        throw new Error('listing failed');
      }
    })());
    await assert.rejects(broken.walk('/', () => undefined), (err: unknown) => err instanceof StorageDriverError && /walk \/: listing failed/.test(err.message));
  });

  it('offers openRead where the driver has it (the filesystem), with the path checked and the call timed', async () => {
    assert.equal(wrapDriver(new InMemoryDriver()).openRead, undefined);
    const root = await mkdtemp(path.join(os.tmpdir(), 'berth-base-'));
    try {
      const { driver, seen } = recorded(await createFilesystemDriver({ rootdirectory: root }));
      await driver.putContent('/f/data', Buffer.from('0123456789'));
      const file = await driver.openRead!('/f/data');
      const buf = Buffer.alloc(4);
      assert.equal(await file.read(buf, 4, 3), 4);
      assert.equal(buf.toString(), '3456');
      assert.equal(file.size, 10);
      await file.close();
      await assert.rejects(driver.openRead!('/f/none'), PathNotFoundError);
      await assert.rejects(driver.openRead!('/f/../data'), InvalidPathError);
      assert.deepEqual(seen(), ['putContent /f/data ok', 'openRead /f/data ok', 'openRead /f/none failed']);
    } finally {
      await rm(root, { recursive: true, force: true });
    }
  });

  /**
   * A driver with every optional operation an object store offers (listFiles, listChildren,
   * pending writes, object keys), kept in memory: what the wrapper does with each.
   */
  class ObjectStoreLike extends InMemoryDriver {
    pending: PendingWrite[] = [{ path: '/p/one', id: 'u1', started: new Date(0) }];
    failPage = false;
    closed = 0;
    async *listFiles(p: string, skip?: (last: string) => string | undefined): AsyncGenerator<string[]> {
      yield [`${p === '/' ? '' : p}/1`];
      if (this.failPage) throw new Error('second page lost');
      yield [skip?.('/x') ?? 'no skip'];
    }
    async *listChildren(p: string, after?: string): AsyncGenerator<string[]> {
      yield [`${p}:${after ?? ''}`];
    }
    async listPendingWrites(p: string): Promise<PendingWrite[]> {
      return this.pending.filter((w) => p === '/' || w.path.startsWith(`${p}/`));
    }
    async abortPendingWrite(write: PendingWrite): Promise<void> {
      this.pending = this.pending.filter((w) => w.id !== write.id);
    }
    objectKey(p: string): string {
      return `bucket${p}`;
    }
    async close(): Promise<void> {
      this.closed++;
    }
  }

  const pagesOf = async (pages: AsyncIterable<string[]>) => {
    const out: string[][] = [];
    for await (const page of pages) out.push(page);
    return out;
  };

  it('lists page by page, each page one timed and normalised operation, from the root down', async () => {
    const inner = new ObjectStoreLike();
    const { driver, seen } = recorded(inner);
    assert.deepEqual(await pagesOf(driver.listFiles!('/', (last) => `after ${last}`)), [['/1'], ['after /x']]);
    assert.deepEqual(await pagesOf(driver.listFiles!('/a')), [['/a/1'], ['no skip']]);
    assert.deepEqual(await pagesOf(driver.listChildren!('/', 'b')), [['/:b']]);
    assert.deepEqual(seen(), ['listFiles / ok', 'listFiles / ok', 'listFiles / ok', 'listFiles /a ok', 'listFiles /a ok', 'listFiles /a ok', 'listChildren / ok', 'listChildren / ok']);
    inner.failPage = true;
    await assert.rejects(pagesOf(driver.listFiles!('/a')), (err: unknown) => err instanceof StorageDriverError && /inmemory: listFiles \/a: second page lost/.test(err.message));
    for (const bad of ['a', '/a/', '/a/../b']) {
      await assert.rejects(async () => pagesOf(driver.listFiles!(bad)), InvalidPathError, bad);
      await assert.rejects(async () => pagesOf(driver.listChildren!(bad)), InvalidPathError, bad);
    }
  });

  it('offers pending writes only as a pair, with their paths checked', async () => {
    const inner = new ObjectStoreLike();
    const { driver, seen } = recorded(inner);
    assert.deepEqual((await driver.listPendingWrites!('/')).map((w) => w.id), ['u1']);
    assert.deepEqual(await driver.listPendingWrites!('/q'), []);
    await driver.abortPendingWrite!(inner.pending[0]!);
    assert.deepEqual(inner.pending, []);
    assert.deepEqual(seen(), ['listPendingWrites / ok', 'listPendingWrites /q ok', 'abortPendingWrite /p/one ok']);
    await assert.rejects(driver.listPendingWrites!('/q/'), InvalidPathError);
    await assert.rejects(driver.abortPendingWrite!({ path: '/', id: 'u2', started: new Date(0) }), InvalidPathError);
    const halfPair = new (class extends InMemoryDriver {
      async listPendingWrites(): Promise<PendingWrite[]> {
        return [];
      }
    })();
    const wrapped = wrapDriver(halfPair);
    assert.equal(wrapped.listPendingWrites, undefined);
    assert.equal(wrapped.abortPendingWrite, undefined);
    const other = wrapDriver(new (class extends InMemoryDriver {
      async abortPendingWrite(): Promise<void> {}
    })());
    assert.equal(other.listPendingWrites, undefined);
    assert.equal(other.abortPendingWrite, undefined);
  });

  it('names object keys of checked paths only, and closes the driver once asked', async () => {
    const inner = new ObjectStoreLike();
    const { driver, seen } = recorded(inner);
    assert.equal(driver.objectKey!('/a/b'), 'bucket/a/b');
    assert.throws(() => driver.objectKey!('/a/../b'), InvalidPathError);
    assert.throws(() => driver.objectKey!('/'), InvalidPathError);
    await driver.close!();
    assert.equal(inner.closed, 1);
    assert.deepEqual(seen(), ['close / ok']);
    const plain = wrapDriver(new InMemoryDriver());
    for (const op of ['listFiles', 'listChildren', 'objectKey'] as const) assert.equal(plain[op], undefined, op);
    await plain.close!();
  });
});
