import { mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import assert from 'node:assert/strict';
import { it } from 'node:test';
import { Redis } from 'ioredis';
import { createDriver } from '../../src/storage/driver/factory.js';
import { RedisRecords } from '../../src/policy/records/redis-records.js';
import { StorageRecords } from '../../src/policy/records/storage-records.js';
import { startRedis } from '../helpers/redis.js';
import { runRecordStoreSuite } from './record-store-suite.js';

runRecordStoreSuite('storage (inmemory driver)', async () => ({ store: new StorageRecords(await createDriver('inmemory', {})), atomic: false, close: async () => undefined }));

let fsRoot = '';
runRecordStoreSuite('storage (filesystem driver)', async () => {
  fsRoot = await mkdtemp(path.join(os.tmpdir(), 'berth-records-'));
  return { store: new StorageRecords(await createDriver('filesystem', { rootdirectory: fsRoot })), atomic: false, close: async () => rm(fsRoot, { recursive: true, force: true }) };
});

runRecordStoreSuite('redis', async () => {
  const server = await startRedis();
  const client = new Redis({ host: '127.0.0.1', port: server.port });
  return {
    store: new RedisRecords(client),
    atomic: true,
    close: async () => {
      client.disconnect();
      await server.stop();
    },
  };
});

it('records beside the layout are one JSON file per repository under _berth/, outside Distribution\'s folders', async () => {
  const root = await mkdtemp(path.join(os.tmpdir(), 'berth-records-'));
  try {
    const store = new StorageRecords(await createDriver('filesystem', { rootdirectory: root }));
    const digest = `sha256:${'c'.repeat(64)}`;
    await store.merge('team/app', new Map([[digest, { pushed: Date.parse('2025-02-03T04:05:06Z'), pulled: null, pulls: 2 }]]));
    const file = path.join(root, 'docker/registry/v2/_berth/records/team/app/_records.json');
    assert.deepEqual(JSON.parse(await readFile(file, 'utf8')), { [digest]: { pushed: '2025-02-03T04:05:06.000Z', pulled: null, pulls: 2 } });
  } finally {
    await rm(root, { recursive: true, force: true });
  }
});
