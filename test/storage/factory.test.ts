import assert from 'node:assert/strict';
import { Readable } from 'node:stream';
import { describe, it } from 'node:test';
import { isValidPath, wrapDriver, type OperationEvent } from '../../src/storage/driver/base.js';
import { InvalidPathError, PathNotFoundError, StorageDriverError } from '../../src/storage/driver/errors.js';
import { createDriver, registerDriver, registeredDrivers } from '../../src/storage/driver/factory.js';
import { InMemoryDriver } from '../../src/storage/driver/inmemory.js';
import type { StorageDriver } from '../../src/storage/driver/types.js';

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
    assert.deepEqual(
      events.map((e) => `${e.operation} ${e.path} ${e.error ? 'failed' : 'ok'}`),
      ['putContent /m/a ok', 'getContent /m/b failed', 'writer /m/c ok', 'writer.write /m/c ok', 'writer.commit /m/c ok'],
    );
    assert.ok(events.every((e) => e.driver === 'inmemory' && e.durationMs >= 0));
  });
});
