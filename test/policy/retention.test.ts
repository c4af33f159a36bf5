// Retention (berth.retention): a repository of 30 tags with push and pull times spread over two
// months (the clock is injected: tests only). A dry run lists exactly the tags and manifests the
// policy does not keep, and removes nothing; the scheduled run removes them (immutable tags
// stay), and garbage collection then reclaims their bytes. On the filesystem with one instance,
// and on S3 with two instances sharing Redis, where pulls seen by one count for the other's run
// and the run happens once under the lock.
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { Clock } from '../../src/clock.js';
import { parseConfig } from '../../src/config/load.js';
import { collectGarbage } from '../../src/gc/collector.js';
import { parseDigest } from '../../src/oci/digest.js';
import type { Recorder } from '../../src/policy/records/recorder.js';
import { decideRetention } from '../../src/policy/retention.js';
import { runRetention, type RetentionRemoval } from '../../src/policy/retention-run.js';
import { blobDataPath } from '../../src/storage/paths.js';
import { ManualClock } from '../helpers/clock.js';
import { getManifest, pushImage, type PushedImage } from '../helpers/push.js';
import { startRedis, type RedisServer } from '../helpers/redis.js';
import { defaultYaml } from '../helpers/registry.js';
import { s3RegistryYaml, startS3, type S3Server } from '../helpers/s3.js';
import { startInstance, type Instance } from './instances.js';

const DAY = 24 * 3600_000;
const REPO = 'team/app';

const POLICY = `berth:
  immutabletags:
    - repositories: ["team/**"]
      tags: ["^v1\\\\.0\\\\.0$"]
  retention:
    interval: 2400h
    delay: 24h
    policies:
      - repositories: ["other/*"]
        deleteuntagged: false
      - repositories: ["team/**"]
        deleteuntagged: true
        deletereferrers: true
        keeptags:
          - patterns: ["^v[0-9]+\\\\.[0-9]+\\\\.[0-9]+$"]
            mostrecentlypushedcount: 5
            mostrecentlypulledcount: 2
          - patterns: ["^dev-"]
            pushedwithin: 240h
            pulledwithin: 168h
`;

/** v1.0.0 … v1.0.19 then dev-0 … dev-9, pushed in that order, two days apart. */
const TAGS = [...Array.from({ length: 20 }, (_, i) => `v1.0.${i}`), ...Array.from({ length: 10 }, (_, i) => `dev-${i}`)];
/** What the policy does not keep, in name order: v1.0.0 is immutable; the five newest v tags, the two most recently pulled (v1.0.2, v1.0.7; v1.0.9's pull is older), dev tags pushed within 10 days (dev-5…9) or pulled within 7 (dev-1) stay. */
const REMOVED_TAGS = ['dev-0', 'dev-2', 'dev-3', 'dev-4', 'v1.0.1', 'v1.0.10', 'v1.0.11', 'v1.0.12', 'v1.0.13', 'v1.0.14', 'v1.0.3', 'v1.0.4', 'v1.0.5', 'v1.0.6', 'v1.0.8', 'v1.0.9'];

interface Scenario {
  /** When the scheduled run happens (the first interval after start). */
  run: number;
  images: Map<string, PushedImage>;
  /** An untagged manifest older than the delay (removed) and one younger (kept). */
  oldUntagged: PushedImage;
  youngUntagged: PushedImage;
}

/**
 * Pushes the 30 tags (alternating between the instances) and pulls some of them at set times,
 * moving the clock from its start (t0, now) to just before t0 + 100 days, when the first run is due.
 */
async function setUp(clock: ManualClock, instances: Instance[]): Promise<Scenario> {
  const t0 = clock.now();
  const run = t0 + 100 * DAY;
  const at = (time: number) => clock.advance(time - clock.now());
  const on = (i: number) => instances[i % instances.length]!;
  at(run - 90 * DAY);
  const oldUntagged = await pushImage(on(0), REPO, undefined, { layerSize: 2048 });
  const images = new Map<string, PushedImage>();
  for (const [k, tag] of TAGS.entries()) {
    at(run - 60 * DAY + k * 2 * DAY);
    images.set(tag, await pushImage(on(k), REPO, tag, { layerSize: 2048 }));
  }
  const pull = async (tag: string, daysBefore: number, i: number) => {
    at(run - daysBefore * DAY);
    assert.equal((await getManifest(on(i), REPO, tag)).status, 200);
  };
  await pull('v1.0.9', 20, 0);
  await pull('v1.0.2', 5, 1);
  await pull('v1.0.7', 4, 0);
  await pull('dev-2', 15, 1);
  await pull('dev-1', 1, 1);
  // HEADs are not pulls.
  for (const r of instances) assert.equal((await getManifest(r, REPO, 'v1.0.9', 'HEAD')).status, 200);
  at(run - 3600_000);
  const youngUntagged = await pushImage(on(1), REPO, undefined, { layerSize: 2048 });
  at(run - 1);
  for (const r of instances) await (r.server.registry.records as Recorder).flush();
  return { run, images, oldUntagged, youngUntagged };
}

function expectedDecisions(s: Scenario): string[] {
  return [
    ...REMOVED_TAGS.map((t) => `tag ${t} ${s.images.get(t)!.manifest.digest}`),
    ...[...REMOVED_TAGS.map((t) => s.images.get(t)!.manifest.digest), s.oldUntagged.manifest.digest].sort().map((d) => `manifest ${d}`),
  ];
}

const asLine = (r: RetentionRemoval) => (r.kind === 'tag' ? `tag ${r.tag} ${r.digest}` : `manifest ${r.digest}`);

/** berth.retention as the instances read it. */
const RETENTION = parseConfig(defaultYaml({ extraYaml: POLICY }).replace('{{root}}', '/unused').replace('{{addr}}', '127.0.0.1:0'), {}).config.retention!;

/** A dry run at the time the scheduled run will have, through the instance's storage and records. */
function dryRun(s: Scenario, reg: Instance) {
  const fixed: Clock = { now: () => s.run, every: () => () => undefined };
  return runRetention(RETENTION, reg.server.registry, { dryRun: true, clock: fixed, records: reg.server.registry.records! });
}

async function checkScenario(clock: ManualClock, instances: Instance[], s: Scenario): Promise<void> {
  const [a] = instances as [Instance];
  // The dry run: exactly the expected tags, then the manifests they leave untagged and the old untagged one; nothing removed.
  const plan = await dryRun(s, a);
  assert.deepEqual(plan.skipped, []);
  assert.deepEqual(plan.removals.map(asLine), expectedDecisions(s));
  assert.ok(plan.removals.every((r) => !r.removed));
  const v109 = plan.removals.find((r) => r.tag === 'v1.0.9')!;
  assert.equal(v109.policy, 1);
  assert.equal(v109.rule, 'keeptags');
  assert.match(v109.reason, /no keeptags rule keeps it \(pushed .*, last pulled /);
  for (const tag of TAGS) assert.equal((await getManifest(a, REPO, tag, 'HEAD')).status, 200, `${tag} is still there after the dry run`);

  // The scheduled run, on every instance at once: one of them carries it out.
  clock.advance(1);
  for (const r of instances) await r.server.retention!.settled();
  const done = instances.flatMap((r) => r.server.retention!.last?.removals.filter((x) => x.removed) ?? []);
  assert.deepEqual(done.map(asLine).sort(), expectedDecisions(s).sort(), 'each removal made once');
  for (const tag of TAGS) {
    const status = (await getManifest(a, REPO, tag, 'HEAD')).status;
    assert.equal(status, REMOVED_TAGS.includes(tag) ? 404 : 200, tag);
  }
  assert.equal((await getManifest(a, REPO, s.youngUntagged.manifest.digest, 'HEAD')).status, 200, 'younger than the delay');
  assert.equal((await getManifest(a, REPO, s.oldUntagged.manifest.digest, 'HEAD')).status, 404);

  // Garbage collection reclaims the removed images' blobs and keeps the others'.
  const driver = a.server.registry.driver;
  const gc = await collectGarbage(driver, { dryRun: false, deleteUntagged: false, graceMs: 0 });
  const removedLayers = [...REMOVED_TAGS.map((t) => s.images.get(t)!), s.oldUntagged].map((img) => img.layers[0]!.digest);
  assert.ok(gc.bytesDeleted >= removedLayers.length * 2048, `reclaimed ${gc.bytesDeleted} bytes`);
  for (const d of removedLayers) await assert.rejects(driver.stat(blobDataPath(parseDigest(d))), `${d} reclaimed`);
  for (const tag of TAGS.filter((t) => !REMOVED_TAGS.includes(t))) await driver.stat(blobDataPath(parseDigest(s.images.get(tag)!.layers[0]!.digest)));
}

describe('retention decisions', () => {
  it('keeps referrers of what stays, removes those whose subject goes, and honours the delay', () => {
    const now = 100 * DAY;
    const facts = {
      name: 'r',
      tags: [{ tag: 'keep', digest: 'A', pushed: 0, pulled: null, immutable: false }],
      manifests: [
        { digest: 'A', pushed: 0, children: ['A1'] },
        { digest: 'A1', pushed: 0, children: [] },
        { digest: 'sigA', pushed: 0, children: [], subject: 'A' },
        { digest: 'B', pushed: 0, children: [] },
        { digest: 'sigB', pushed: 0, children: [], subject: 'B' },
        { digest: 'young', pushed: now - 1000, children: [] },
      ],
    };
    const policy = (deleteReferrers: boolean) => [{ deleteUntagged: true, deleteReferrers }];
    assert.deepEqual(decideRetention(facts, policy(true), 0, DAY, now).map((r) => `${r.digest} ${r.rule}`), ['B deleteuntagged', 'sigB deletereferrers']);
    assert.deepEqual(decideRetention(facts, policy(false), 0, DAY, now).map((r) => r.digest), ['B']);
    assert.deepEqual(decideRetention(facts, [{ deleteUntagged: false, deleteReferrers: false }], 0, DAY, now), [], 'nothing without deleteuntagged or keeptags');
  });
});

describe('retention on the filesystem', () => {
  let base: string;
  const clock = new ManualClock();
  let reg: Instance;
  before(async () => {
    base = await mkdtemp(path.join(os.tmpdir(), 'berth-retention-'));
    reg = await startInstance(defaultYaml({ extraYaml: POLICY }), { clock, root: path.join(base, 'storage') });
  });
  after(async () => {
    await reg?.stop();
    await rm(base, { recursive: true, force: true });
  });

  it('dry run lists exactly what the policy does not keep; the scheduled run removes it; GC reclaims the bytes', async () => {
    await checkScenario(clock, [reg], await setUp(clock, [reg]));
  });
});

describe('retention on S3, two instances sharing Redis', () => {
  let s3: S3Server;
  let redis: RedisServer;
  const clock = new ManualClock();
  const instances: Instance[] = [];
  before(async () => {
    [s3, redis] = await Promise.all([startS3(), startRedis()]);
    const yaml = s3RegistryYaml(s3.params(await s3.bucket()), { storage: ['  delete:', '    enabled: true'], top: [`redis:\n  addr: ${redis.addr}`], secret: 'retention-test-secret' }) + POLICY;
    for (let i = 0; i < 2; i++) instances.push(await startInstance(yaml, { clock }));
  });
  after(async () => {
    for (const r of instances) await r.stop();
    await redis?.stop();
    await s3?.stop();
  });

  it('counts pulls either instance saw, runs once under the lock, and GC reclaims the bytes', async () => {
    await checkScenario(clock, instances, await setUp(clock, instances));
  });
});
