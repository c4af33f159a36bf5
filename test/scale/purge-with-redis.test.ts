import assert from 'node:assert/strict';
import { after, before, it } from 'node:test';
import { Redis } from 'ioredis';
import { pino } from 'pino';
import { startS3, type S3Server } from '../helpers/s3.js';
import { startRedis, type RedisServer } from '../helpers/redis.js';
import { random } from '../helpers/content.js';
import { createDriver } from '../../src/storage/driver/factory.js';
import type { StorageDriver } from '../../src/storage/driver/types.js';
import { InvalidationBus } from '../../src/redis/invalidation.js';
import { reportingDriver } from '../../src/storage/changes.js';
import { purgeUploads } from '../../src/storage/purge.js';
import { uploadDataPath } from '../../src/storage/paths.js';

/**
 * With redis configured every instance's driver is wrapped to announce its writes; upload purging
 * must still see and abort the multipart uploads a killed process left (driver capabilities pass
 * through the wrapper).
 */
let s3: S3Server;
let redis: RedisServer;
let inner: StorageDriver;
const connections: Redis[] = [];

before(async () => {
  [s3, redis] = await Promise.all([startS3(), startRedis()]);
  inner = await createDriver('s3', s3.params(await s3.bucket(), { chunksize: 5 * 1024 * 1024 }));
});
after(async () => {
  for (const c of connections) c.disconnect();
  await inner?.close?.();
  await redis?.stop();
  await s3?.stop();
});

it('purging through the redis-announcing driver aborts a multipart upload with no upload folder', async () => {
  const connect = () => {
    const c = new Redis({ port: redis.port, host: '127.0.0.1' });
    connections.push(c);
    return c;
  };
  const bus = new InvalidationBus(connect(), connect(), pino({ level: 'silent' }));
  const driver = reportingDriver(inner, (changes) => bus.publish(...changes));
  assert.ok(driver.listPendingWrites && driver.abortPendingWrite, 'the wrapper offers pending writes');
  const path = uploadDataPath('team/app', 'f0e1d2c3-0000-4000-8000-000000000000');
  const writer = await driver.writer(path);
  await writer.write(random(5 * 1024 * 1024 + 1)); // one full part goes to S3; the writer is never closed
  let pending = await driver.listPendingWrites('/docker/registry/v2/repositories');
  for (let i = 0; i < 200 && !pending.some((w) => w.path === path); i++) {
    await new Promise((r) => setTimeout(r, 50));
    pending = await driver.listPendingWrites('/docker/registry/v2/repositories');
  }
  assert.ok(pending.some((w) => w.path === path), 'the multipart upload exists');
  const { aborted } = await purgeUploads(driver, { olderThan: new Date(Date.now() + 60_000), dryRun: false });
  assert.deepEqual(aborted.map((w) => w.path), [path]);
  assert.deepEqual(await driver.listPendingWrites('/docker/registry/v2/repositories'), []);
});
