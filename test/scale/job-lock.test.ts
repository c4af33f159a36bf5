// Background jobs with several instances on one storage: the redis lock lets one instance at a time
// run garbage collection (and upload purging); a holder that dies frees the lock by expiry.
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Redis } from 'ioredis';
import { redisJobLock } from '../../src/redis/lock.js';
import { ManualClock } from '../helpers/clock.js';
import { startRedis, type RedisServer } from '../helpers/redis.js';
import { startBerth, waitFor, type Berth } from '../notifications/harness.js';

describe('background job lock in redis', () => {
  let redis: RedisServer;
  const clients: Redis[] = [];
  const client = () => {
    const c = new Redis({ host: '127.0.0.1', port: redis.port, maxRetriesPerRequest: 1 });
    clients.push(c);
    return c;
  };
  before(async () => {
    redis = await startRedis();
  });
  after(async () => {
    for (const c of clients) c.disconnect();
    await redis?.stop();
  });

  it('runs a job on one holder at a time, and again once it is released', async () => {
    const a = redisJobLock(client(), 5_000);
    const b = redisJobLock(client(), 5_000);
    let release!: () => void;
    const held = new Promise<void>((r) => (release = r));
    const ranA = a('gc', () => held);
    await waitFor('the lock to be taken', async () => ((await clients[0]!.exists('berth:lock:gc')) === 1 ? true : undefined));
    let ranInB = false;
    assert.equal(await b('gc', async () => void (ranInB = true)), false);
    assert.equal(ranInB, false);
    // Another job name is a separate lock.
    assert.equal(await b('uploadpurging', async () => undefined), true);
    release();
    assert.equal(await ranA, true);
    assert.equal(await b('gc', async () => void (ranInB = true)), true);
    assert.equal(ranInB, true);
    assert.equal(await clients[0]!.exists('berth:lock:gc'), 0);
  });

  // Renewals run on a clock the test moves; what redis does with time (PX expiry) is simulated by
  // shortening the key's life (PEXPIRE) where a real run would wait. The checks use the holder's
  // own connection, so redis sees them after any renewal the clock set off.
  it('renews the lock every third of its ttl while the job runs, and stops when it ends', async () => {
    const c = client();
    const clock = new ManualClock();
    let release!: () => void;
    const held = new Promise<void>((r) => (release = r));
    const ran = redisJobLock(c, 60_000, clock)('gc', () => held);
    await waitFor('the lock to be taken', async () => ((await c.exists('berth:lock:gc')) === 1 ? true : undefined));
    assert.ok((await c.pttl('berth:lock:gc')) > 50_000, 'taken with the ttl');
    // Most of the ttl has gone by without a renewal due yet: nothing touches the key.
    await c.pexpire('berth:lock:gc', 30_000);
    clock.advance(19_999);
    assert.ok((await c.pttl('berth:lock:gc')) <= 30_000, 'no renewal before a third of the ttl');
    clock.advance(1);
    // The renewal goes out on the holder's own connection, ahead of this PTTL.
    assert.ok((await c.pttl('berth:lock:gc')) > 30_000, 'renewed to the full ttl');
    assert.equal(await redisJobLock(client(), 60_000)('gc', async () => undefined), false, 'still held');
    release();
    assert.equal(await ran, true);
    assert.equal(await c.exists('berth:lock:gc'), 0, 'released');
    assert.equal(clock.pending, 0, 'no renewal timer left');
  });

  it('never renews or releases a lock another holder took after its own expired', async () => {
    const c = client();
    const clock = new ManualClock();
    let release!: () => void;
    const held = new Promise<void>((r) => (release = r));
    const ran = redisJobLock(c, 60_000, clock)('gc', () => held);
    await waitFor('the lock to be taken', async () => ((await c.exists('berth:lock:gc')) === 1 ? true : undefined));
    // The first holder stalled past its ttl (the key expired); a second holder takes the lock.
    await c.del('berth:lock:gc');
    await c.set('berth:lock:gc', 'second-holder', 'PX', 10_000);
    clock.advance(20_000);
    clock.advance(20_000);
    release();
    assert.equal(await ran, true);
    assert.equal(await c.get('berth:lock:gc'), 'second-holder', 'not released by the first holder');
    assert.ok((await c.pttl('berth:lock:gc')) <= 10_000, 'not renewed by the first holder');
  });

  it('a lock whose holder died is refused until redis expires it, then taken', async () => {
    const c = client();
    // A holder that died: its token stays, with the ttl it was set with.
    await c.set('berth:lock:gc', 'dead-holder', 'PX', 60_000);
    assert.equal(await redisJobLock(client(), 60_000)('gc', async () => undefined), false);
    // Its ttl runs out (shortened here instead of waited for).
    await c.pexpire('berth:lock:gc', 1);
    await waitFor('redis to expire the key', async () => ((await c.exists('berth:lock:gc')) === 0 ? true : undefined));
    assert.equal(await redisJobLock(client(), 60_000)('gc', async () => undefined), true);
  });

  it('two instances with berth.gc on one storage: while one collects, the other skips its turn', async () => {
    const root = await mkdtemp(path.join(os.tmpdir(), 'berth-joblock-'));
    const yaml = `
storage:
  filesystem:
    rootdirectory: ${root}
http:
  addr: 127.0.0.1:0
  secret: shared-secret
redis:
  addr: 127.0.0.1:${redis.port}
berth:
  gc:
    enabled: true
    interval: 100ms
    grace: 0s
`;
    const servers: Berth[] = [];
    try {
      // A collection held open from outside stands for a long run on another instance.
      let release!: () => void;
      const held = new Promise<void>((r) => (release = r));
      const outside = redisJobLock(client())('gc', () => held);
      servers.push(await startBerth(yaml), await startBerth(yaml));
      const said = (s: Berth, msg: string) => s.logs.filter((l) => l.msg === msg).length;
      await waitFor('both instances to skip', () => (servers.every((s) => said(s, 'garbage collection skipped: another instance is running it') >= 2) ? true : undefined));
      assert.deepEqual(servers.map((s) => said(s, 'garbage collection finished')), [0, 0]);
      release();
      await outside;
      await waitFor('a collection to run', () => (servers.some((s) => said(s, 'garbage collection finished') >= 1) ? true : undefined));
    } finally {
      for (const s of servers) await s.close();
      await rm(root, { recursive: true, force: true });
    }
  });
});

describe('berth garbage-collect with redis configured', () => {
  it('refuses with one line while another instance holds the lock, and runs once it is free', async () => {
    const { execFile } = await import('node:child_process');
    const { writeFile } = await import('node:fs/promises');
    const redis = await startRedis();
    const root = await mkdtemp(path.join(os.tmpdir(), 'berth-joblock-cli-'));
    const holder = new Redis({ host: '127.0.0.1', port: redis.port, maxRetriesPerRequest: 1 });
    try {
      const cfg = path.join(root, 'config.yml');
      await writeFile(cfg, `version: 0.1\nstorage:\n  filesystem:\n    rootdirectory: ${root}/data\nredis:\n  addr: 127.0.0.1:${redis.port}\n`);
      const gc = () =>
        new Promise<{ code: number; stdout: string; stderr: string }>((resolve) => {
          execFile(process.execPath, ['dist/cli.js', 'garbage-collect', cfg, '--dry-run'], (err, stdout, stderr) =>
            resolve({ code: err ? (err as { code?: number }).code ?? 1 : 0, stdout, stderr }),
          );
        });
      await holder.set('berth:lock:gc', 'another-instance', 'PX', 60_000);
      const refused = await gc();
      assert.equal(refused.code, 1);
      assert.equal(refused.stderr, 'berth: another instance is collecting garbage (redis lock berth:lock:gc); try again later\n');
      await holder.del('berth:lock:gc');
      const ran = await gc();
      assert.equal(ran.code, 0, ran.stderr);
      assert.match(ran.stdout, /blobs marked/);
      assert.equal(await holder.exists('berth:lock:gc'), 0);
    } finally {
      holder.disconnect();
      await redis.stop();
      await rm(root, { recursive: true, force: true });
    }
  });
});
