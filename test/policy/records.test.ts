// Pull and push records over HTTP: GETs by tag and digest are pulls, HEADs are not; the UI's
// endpoints show them; they are written beside the layout at the batch interval and at shutdown
// and survive a restart; with Redis, two instances add up each other's pulls.
import assert from 'node:assert/strict';
import { access, mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { defaultYaml } from '../helpers/registry.js';
import { getManifest, pushImage } from '../helpers/push.js';
import { startRedis, type RedisServer } from '../helpers/redis.js';
import { ManualClock } from '../helpers/clock.js';
import { recordsWritten, startInstance, type Instance } from './instances.js';

const REPO = 'team/app';
const RECORDS = 'docker/registry/v2/_berth/records/team/app/_records.json';

async function tagRow(reg: Instance, tag: string): Promise<{ pulled: string | null; pulls: number; digest: string }> {
  const res = await reg.req('GET', `/v2/_berth/repositories/${REPO}`);
  assert.equal(res.status, 200, res.text());
  return res.json().tags.find((t: { name: string }) => t.name === tag);
}

describe('records on the filesystem, one instance', () => {
  let base: string;
  const clock = new ManualClock();
  let reg: Instance;
  before(async () => {
    base = await mkdtemp(path.join(os.tmpdir(), 'berth-records-'));
    reg = await startInstance(defaultYaml(), { clock, root: path.join(base, 'storage') });
  });
  after(async () => {
    await reg?.stop();
    await rm(base, { recursive: true, force: true });
  });

  it('counts GETs by tag and by digest, not HEADs, and shows them in the UI endpoints', async () => {
    const pushedAt = clock.now();
    const v1 = await pushImage(reg, REPO, 'v1');
    await pushImage(reg, REPO, 'v2');
    clock.advance(2_000);
    const pulledAt = clock.now();
    assert.equal((await getManifest(reg, REPO, 'v1')).status, 200);
    assert.equal((await getManifest(reg, REPO, 'v1')).status, 200);
    assert.equal((await getManifest(reg, REPO, v1.manifest.digest)).status, 200);
    for (let i = 0; i < 3; i++) assert.equal((await getManifest(reg, REPO, 'v1', 'HEAD')).status, 200);
    assert.equal((await getManifest(reg, REPO, 'v2', 'HEAD')).status, 200);

    const row = await tagRow(reg, 'v1');
    assert.equal(row.pulls, 3);
    assert.equal(row.pulled, new Date(pulledAt).toISOString());
    const v2 = await tagRow(reg, 'v2');
    assert.equal(v2.pulls, 0);
    assert.equal(v2.pulled, null);
    const image = (await reg.req('GET', `/v2/_berth/images/${REPO}/v1`)).json();
    assert.equal(image.pushed, new Date(pushedAt).toISOString());
    assert.equal(image.pulled, new Date(pulledAt).toISOString());
    assert.equal(image.pulls, 3);
    const byPulled = (await reg.req('GET', `/v2/_berth/repositories/${REPO}?sort=pulled`)).json();
    assert.deepEqual(byPulled.tags.map((t: { name: string }) => t.name), ['v1', 'v2'], 'never-pulled last');
  });

  it('writes them beside the layout at the batch interval, not before', async () => {
    const file = path.join(reg.root, RECORDS);
    await assert.rejects(access(file), 'nothing written yet');
    clock.advance(10_000);
    await recordsWritten(reg);
    const doc = JSON.parse(await readFile(file, 'utf8'));
    const v1 = (await tagRow(reg, 'v1')).digest;
    assert.equal(doc[v1].pulls, 3);
  });

  it('survive a restart, with the pulls made just before shutdown', async () => {
    assert.equal((await getManifest(reg, REPO, 'v2')).status, 200);
    await reg.stop();
    reg = await startInstance(defaultYaml(), { clock, root: reg.root });
    assert.equal((await tagRow(reg, 'v1')).pulls, 3);
    assert.equal((await tagRow(reg, 'v2')).pulls, 1);
  });

  it('go with their repository', async () => {
    assert.equal((await reg.req('DELETE', `/v2/_berth/repositories/${REPO}`)).status, 202);
    await assert.rejects(access(path.join(reg.root, RECORDS)));
  });
});

describe('records in Redis, two instances', () => {
  let base: string;
  let redis: RedisServer;
  const clock = new ManualClock();
  const instances: Instance[] = [];
  before(async () => {
    base = await mkdtemp(path.join(os.tmpdir(), 'berth-records-'));
    redis = await startRedis();
    const yaml = defaultYaml({ extraYaml: `redis:\n  addr: ${redis.addr}\n` });
    for (let i = 0; i < 2; i++) instances.push(await startInstance(yaml, { clock, root: path.join(base, 'storage') }));
  });
  after(async () => {
    for (const r of instances) await r.stop();
    await redis?.stop();
    await rm(base, { recursive: true, force: true });
  });

  it('adds up the pulls each instance saw, once both have written their batch', async () => {
    const [a, b] = instances as [Instance, Instance];
    await pushImage(a, REPO, 'v1');
    for (let i = 0; i < 2; i++) assert.equal((await getManifest(a, REPO, 'v1')).status, 200);
    assert.equal((await getManifest(b, REPO, 'v1')).status, 200);
    clock.advance(10_000);
    for (const r of instances) await recordsWritten(r);
    assert.equal((await tagRow(a, 'v1')).pulls, 3);
    assert.equal((await tagRow(b, 'v1')).pulls, 3);
    await assert.rejects(access(path.join(base, 'storage', RECORDS)), 'nothing beside the layout');
  });
});
