// Quotas (berth.quotas) over HTTP: the push that crosses a limit is refused with 403 DENIED naming
// the rule, its usage and its limit, and nothing before it is; a refused blob is neither stored
// nor linked; a blob linked by several repositories of a shared rule counts once; `each` gives
// every repository the limit alone; deleting frees quota at once; usage is read from the layout
// at start; on S3 two instances sharing Redis see each other's usage, and of two pushes of a new
// immutable tag to them at once exactly one wins.
import assert from 'node:assert/strict';
import { access, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { defaultYaml } from '../helpers/registry.js';
import { assertError, getManifest, pushBlob, pushImage, putManifest, startUpload, withQuery } from '../helpers/push.js';
import { blob, random } from '../helpers/content.js';
import { startRedis, type RedisServer } from '../helpers/redis.js';
import { s3RegistryYaml, startS3, type S3Server } from '../helpers/s3.js';
import { ManualClock } from '../helpers/clock.js';
import { garbageCollect } from '../../src/cli/garbage-collect.js';
import { parseSize } from '../../src/config/size.js';
import { QuotaUsage } from '../../src/policy/usage.js';
import type { PolicyRules } from '../../src/policy/rules.js';
import { raceImmutableTags, startInstance, type Instance } from './instances.js';

const POLICY = `berth:
  quotas:
    - repositories: ["team/**"]
      maxbytes: 10000
    - repositories: ["solo/*"]
      maxbytes: 5kB
      each: true
`;

/** POST then PUT of `size` random bytes; the PUT's answer. */
async function tryBlob(reg: Instance, repo: string, size: number) {
  const b = blob(random(size));
  const { location } = await startUpload(reg, repo);
  const res = await reg.req('PUT', withQuery(location, { digest: b.digest }), { body: b.data, headers: { 'Content-Type': 'application/octet-stream' } });
  return { res, digest: b.digest };
}

/** Waits until the instance counts `bytes` against the shared rule (another instance's change arrives through Redis). */
async function sharedUsage(reg: Instance, bytes: number): Promise<void> {
  const usage = (reg.server.registry.rules as PolicyRules).quotas!;
  const used = () => usage.report()[0]!.usage[0]!.used;
  for (let i = 0; i < 500 && used() !== bytes; i++) await new Promise((r) => setTimeout(r, 20));
  assert.equal(used(), bytes);
}

function message(res: { json(): { errors: Array<{ message: string }> } }): string {
  return res.json().errors[0]!.message;
}

describe('quota sizes', () => {
  it('reads bytes, decimal and binary units', () => {
    assert.equal(parseSize('10GiB'), 10 * 1024 ** 3);
    assert.equal(parseSize('500MB'), 500_000_000);
    assert.equal(parseSize('1.5kib'), 1536);
    assert.equal(parseSize(123), 123);
    assert.equal(parseSize('12 parsecs'), undefined);
    assert.equal(parseSize(-1), undefined);
  });
});

describe('quotas on the filesystem', () => {
  let base: string;
  let root: string;
  let reg: Instance;
  const clock = new ManualClock();
  before(async () => {
    base = await mkdtemp(path.join(os.tmpdir(), 'berth-quotas-'));
    root = path.join(base, 'storage');
    reg = await startInstance(defaultYaml({ extraYaml: POLICY }), { clock, root });
  });
  after(async () => {
    await reg?.stop();
    await rm(base, { recursive: true, force: true });
  });

  it('refuses the push that crosses a shared limit, and not one before it; a blob shared by the rule\'s repositories counts once', async () => {
    await pushBlob(reg, 'team/a', random(3000));
    const shared = await pushBlob(reg, 'team/a', random(3000));
    await pushBlob(reg, 'team/b', random(3000));
    // The same blob in another repository of the rule adds nothing: by mount and by upload.
    assert.equal((await reg.req('POST', `/v2/team/b/blobs/uploads/?mount=${shared}&from=team/a`)).status, 201);
    assert.equal((await tryBlob(reg, 'team/c', 1000)).res.status, 201, 'exactly at the limit fits');
    const over = await tryBlob(reg, 'team/c', 1);
    assertError(over.res, 403, 'DENIED');
    assert.match(message(over.res), /quota exceeded: berth\.quotas\[0\] \(repositories team\/\*\*\) allows 9\.77 KiB \(10000 bytes\), shared by its repositories uses 9\.77 KiB \(10000 bytes\), this push adds 1 B \(1 bytes\)/);
    // Nothing half-done: not linked, not stored, the upload gone.
    assert.equal((await reg.req('HEAD', `/v2/team/c/blobs/${over.digest}`)).status, 404);
    const hex = over.digest.slice('sha256:'.length);
    await assert.rejects(access(path.join(root, 'docker/registry/v2/blobs/sha256', hex.slice(0, 2), hex)));
    // At the limit, a blob the rule already counts still fits (it adds nothing).
    assert.equal((await reg.req('POST', `/v2/team/c/blobs/uploads/?mount=${shared}&from=team/a`)).status, 201);
  });

  it('frees quota as soon as content is deleted', async () => {
    const big = await pushBlob(reg, 'solo/x', random(4000));
    assertError((await tryBlob(reg, 'solo/x', 2000)).res, 403, 'DENIED');
    assert.equal((await reg.req('DELETE', `/v2/solo/x/blobs/${big}`)).status, 202);
    assert.equal((await tryBlob(reg, 'solo/x', 2000)).res.status, 201);
  });

  it('with each: every repository has the limit to itself', async () => {
    assert.equal((await tryBlob(reg, 'solo/y', 4500)).res.status, 201);
    const over = await tryBlob(reg, 'solo/y', 600);
    assertError(over.res, 403, 'DENIED');
    assert.match(message(over.res), /berth\.quotas\[1\] \(repositories solo\/\*, each\) allows 4\.88 KiB \(5000 bytes\), repository solo\/y uses 4\.39 KiB \(4500 bytes\)/);
    assert.equal((await tryBlob(reg, 'solo/z', 4500)).res.status, 201);
  });

  it('reads usage from the layout at start', async () => {
    await reg.stop();
    reg = await startInstance(defaultYaml({ extraYaml: POLICY }), { clock, root });
    assertError((await tryBlob(reg, 'team/d', 1)).res, 403, 'DENIED');
    assertError((await tryBlob(reg, 'solo/y', 600)).res, 403, 'DENIED');
    assert.equal((await tryBlob(reg, 'solo/y', 400)).res.status, 201);
  });
});

describe('quotas and immutable tags on S3, two instances sharing Redis', () => {
  let s3: S3Server;
  let redis: RedisServer;
  const instances: Instance[] = [];
  let yaml: string;
  before(async () => {
    [s3, redis] = await Promise.all([startS3(), startRedis()]);
    yaml = s3RegistryYaml(s3.params(await s3.bucket()), { storage: ['  delete:', '    enabled: true'], top: [`redis:\n  addr: ${redis.addr}`], secret: 'quota-test-secret' }) +
      POLICY +
      '  immutabletags:\n    - repositories: ["team/**"]\n      tags: ["^v"]\n    - repositories: ["race/*"]\n      tags: ["^v"]\n';
    for (let i = 0; i < 2; i++) instances.push(await startInstance(yaml, { clock: new ManualClock() }));
  });
  after(async () => {
    for (const r of instances) await r.stop();
    await redis?.stop();
    await s3?.stop();
  });

  it('counts what the other instance linked, and frees what it deleted', async () => {
    const [a, b] = instances as [Instance, Instance];
    const first = await pushBlob(a, 'team/a', random(6000));
    await pushBlob(b, 'team/b', random(3000));
    // Each instance counts both pushes once the other's change has reached it: 9000 of 10000 used.
    for (const r of [a, b]) await sharedUsage(r, 9000);
    for (const r of [a, b]) assertError((await tryBlob(r, 'team/c', 1001)).res, 403, 'DENIED');
    assert.equal((await a.req('DELETE', `/v2/team/a/blobs/${first}`)).status, 202);
    await sharedUsage(b, 3000);
    assert.equal((await tryBlob(b, 'team/c', 5000)).res.status, 201);
  });

  it('keeps a tag one instance pushed immutable on the other', async () => {
    const [a, b] = instances as [Instance, Instance];
    const one = await pushImage(a, 'team/img', 'v1', { layerSize: 10 });
    const two = await pushImage(b, 'team/img', undefined, { layerSize: 10 });
    assertError(await putManifest(b, 'team/img', 'v1', two.manifest), 403, 'DENIED');
    assertError(await b.req('DELETE', `/v2/team/img/manifests/${one.manifest.digest}`), 403, 'DENIED');
    assert.equal((await getManifest(b, 'team/img', 'v1')).header('docker-content-digest'), one.manifest.digest);
  });

  it('of pushes of a new immutable tag to both instances at the same moment, exactly one wins (the tag\'s lock in Redis)', async () => {
    // Outside team/**, whose quota the tests above have nearly filled.
    await raceImmutableTags(instances, 'race/app', ['v1', 'v2', 'v3', 'v4', 'v5'], /berth\.immutabletags\[1\] \(repositories race\/\*, tags \^v\)/, 4);
  });

  it('follows the blobs `berth garbage-collect`, another process, deletes', async () => {
    const [a, b] = instances as [Instance, Instance];
    // A blob linked but in no manifest: the collector sweeps its data, so its link counts nothing.
    await pushBlob(a, 'team/gc', random(500));
    const rules = (a.server.registry.rules as PolicyRules).quotas!.rules;
    const counted = (r: Instance) => (r.server.registry.rules as PolicyRules).quotas!.report()[0]!.usage[0]!.used;
    const before = counted(b);
    const dir = await mkdtemp(path.join(os.tmpdir(), 'berth-quota-gc-'));
    try {
      const file = path.join(dir, 'config.yml');
      await writeFile(file, `${yaml}  gc:\n    grace: 0s\n`.replaceAll('{{addr}}', '127.0.0.1:0'));
      await garbageCollect(file, { quiet: true });
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
    // What the layout now holds, read as a server reads it at start.
    const truth = new QuotaUsage(rules, a.server.registry.driver);
    await truth.load();
    const now = truth.report()[0]!.usage[0]!.used;
    assert.ok(now <= before - 500, `the swept blobs stop counting (${before} → ${now})`);
    for (const r of [a, b]) await sharedUsage(r, now);
  });
});
