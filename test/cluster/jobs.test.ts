import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import bcrypt from 'bcryptjs';
import { request } from '../helpers/http.js';
import type { Registry } from '../helpers/registry.js';
import { logLines, startWorkers, until, workersThatServed, workersYaml } from './helpers.js';

/**
 * What must happen once with two workers: the token issuer's key is created once (a token from
 * either worker is accepted by both), failed logins are counted across workers, and garbage
 * collection runs in the jobs worker only.
 */
const dir = mkdtempSync(path.join(os.tmpdir(), 'berth-workers-jobs-'));
const htpasswd = path.join(dir, 'htpasswd');
let registry: Registry;
const basic = (user: string, password: string) => `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;

before(async () => {
  writeFileSync(htpasswd, `alice:${bcrypt.hashSync('right', 4)}\n`);
  registry = await startWorkers(2, {
    yaml: workersYaml([
      'auth:',
      '  token:',
      '    autoredirect: true',
      '    service: berth-test',
      '    issuer: berth',
      'berth:',
      '  auth:',
      '    tokenissuer:',
      `      htpasswd: ${htpasswd}`,
      '    ratelimit:',
      '      failures: 3',
      '      window: 10m',
      '  gc:',
      '    enabled: true',
      '    interval: 1s',
    ]),
  });
});
after(async () => {
  await registry?.stop();
  rmSync(dir, { recursive: true, force: true });
});

describe('once-only work with two workers', () => {
  it('signs every token with one key: a token from either worker is accepted by both', async () => {
    // Connections go to the worker with the fewest open (src/cluster/dealer.ts), so new ones that
    // stay open reach both workers within a few, whatever the other connections are; fresh ones
    // that close at once may all go to one (the one holding none, once its closes are reported).
    const agents = Array.from({ length: 6 }, () => new http.Agent({ keepAlive: true, maxSockets: 1 }));
    try {
      const tokens = new Set<string>();
      for (const agent of agents) {
        const res = await request(registry.url, 'GET', '/auth/token?service=berth-test&scope=repository:a/b:pull', { agent, headers: { Authorization: basic('alice', 'right') } });
        assert.equal(res.status, 200, res.text());
        tokens.add(res.json<{ token: string }>().token);
      }
      const served = await workersThatServed(registry, (l) => l.url?.startsWith('/auth/token') === true, 2);
      assert.deepEqual([...served].sort(), [0, 1], 'tokens issued by both workers');
      // Every token, through every connection: each is checked by both workers.
      for (const token of tokens) {
        for (const agent of agents) assert.equal((await request(registry.url, 'GET', '/v2/', { agent, headers: { Authorization: `Bearer ${token}` } })).status, 200);
      }
    } finally {
      for (const agent of agents) agent.destroy();
    }
  });

  it('runs garbage collection in the jobs worker only', async () => {
    const runs = () => logLines(registry).filter((l) => l.msg === 'garbage collection finished');
    await until('three collections', () => runs().length >= 3);
    assert.deepEqual([...new Set(runs().map((l) => l.worker))], [0]);
  });

  it('counts failed logins across workers: the limit holds whichever worker a guess reaches', async () => {
    const statuses: number[] = [];
    for (let i = 0; i < 3; i++) {
      statuses.push((await request(registry.url, 'GET', '/auth/token?service=berth-test', { fresh: true, headers: { Authorization: basic('alice', `wrong${i}`) } })).status);
    }
    assert.deepEqual(statuses, [401, 401, 401]);
    // Each worker alone has seen at most two failures; together they are at the limit.
    for (let i = 0; i < 2; i++) {
      const res = await request(registry.url, 'GET', '/auth/token?service=berth-test', { fresh: true, headers: { Authorization: basic('alice', 'right') } });
      assert.equal(res.status, 429);
      assert.ok(Number(res.header('retry-after')) > 0);
    }
  });
});
