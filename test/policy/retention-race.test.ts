// A tag pushed again while a retention run is under way is not removed (docs/policy.md, "How it
// removes"). The race is made at a fixed point: the run has read every tag and decided, and as it
// reports its first removal (its `emit`, which it awaits) the other condemned tags are pushed
// again over HTTP, one moved to a new manifest and one to the manifest it already named. Neither
// goes, nor does the manifest the second still names; the rest of the decisions are carried out.
// And a push arriving between retention's re-check of a tag and its delete (the driver's delete
// held until the push waits at the tag's lock) lands after the delete, not before it.
import assert from 'node:assert/strict';
import { mkdtemp, rm, utimes } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { Clock } from '../../src/clock.js';
import { parseConfig } from '../../src/config/load.js';
import { runRetention, type RetentionRemoval } from '../../src/policy/retention-run.js';
import { ManualClock } from '../helpers/clock.js';
import { getManifest, pushImage, pushManifest, type PushedImage } from '../helpers/push.js';
import { defaultYaml } from '../helpers/registry.js';
import { startInstance, type Instance } from './instances.js';

const REPO = 'team/app';
const POLICY = `berth:
  retention:
    delay: 0s
    policies:
      - repositories: ["team/**"]
        deleteuntagged: true
        keeptags:
          - patterns: ["^keep"]
`;
const RETENTION = parseConfig(defaultYaml({ extraYaml: POLICY }).replace('{{root}}', '/unused').replace('{{addr}}', '127.0.0.1:0'), {}).config.retention!;

describe('retention racing a push', () => {
  let base: string;
  let root: string;
  let reg: Instance;
  const clock = new ManualClock();
  before(async () => {
    base = await mkdtemp(path.join(os.tmpdir(), 'berth-retention-race-'));
    root = path.join(base, 'storage');
    reg = await startInstance(defaultYaml({ extraYaml: POLICY }), { clock, root });
  });
  after(async () => {
    await reg?.stop();
    await rm(base, { recursive: true, force: true });
  });

  it('keeps a tag pushed again (moved, or to the same manifest) after the run read it, and the manifest it names', async () => {
    const images = new Map<string, PushedImage>();
    for (const tag of ['drop-1', 'drop-2', 'drop-3', 'keep-1']) images.set(tag, await pushImage(reg, REPO, tag));
    // The tags were pushed an hour ago (storage's time), so a push now is later than what the run reads.
    const hourAgo = new Date(Date.now() - 3600_000);
    for (const tag of images.keys()) await utimes(path.join(root, `docker/registry/v2/repositories/${REPO}/_manifests/tags/${tag}/current/link`), hourAgo, hourAgo);

    const moved = new Map<string, PushedImage>();
    const again: string[] = [];
    const emit = async (r: RetentionRemoval) => {
      if (r.kind !== 'tag' || moved.size > 0) return;
      // The run has read every tag and decided; it removed r.tag and waits for this before going on.
      const [toMove, toRepush] = ['drop-1', 'drop-2', 'drop-3'].filter((t) => t !== r.tag) as [string, string];
      moved.set(toMove, await pushImage(reg, REPO, toMove));
      await pushManifest(reg, REPO, toRepush, images.get(toRepush)!.manifest);
      again.push(toRepush);
    };
    const fixed: Clock = { now: () => clock.now() + 24 * 3600_000, every: () => () => undefined };
    const report = await runRetention(RETENTION, reg.server.registry, { dryRun: false, clock: fixed, records: reg.server.registry.records!, emit });

    assert.equal(moved.size, 1, 'the race happened');
    const [[toMove, newImage]] = [...moved] as [[string, PushedImage]];
    const toRepush = again[0]!;
    const first = report.removals.find((r) => r.kind === 'tag')!;
    const byTag = (tag: string) => report.removals.find((r) => r.kind === 'tag' && r.tag === tag)!;
    const byDigest = (digest: string) => report.removals.find((r) => r.kind === 'manifest' && r.digest === digest)!;

    // All three were decided on what the run read; only the first was not pushed again before its turn.
    assert.equal(first.removed, true);
    for (const tag of [toMove, toRepush]) {
      const r = byTag(tag);
      assert.equal(r.removed, false, `${tag} pushed again is kept`);
      assert.equal(r.kept, 'pushed again, moved or immutable since it was read');
    }
    assert.equal(byDigest(images.get(toRepush)!.manifest.digest).removed, false, 'the manifest a tag names again is kept');
    assert.equal(byDigest(images.get(toRepush)!.manifest.digest).kept, 'tagged, pushed again or in use since it was read');
    // The manifests no tag names any more go, as decided.
    assert.equal(byDigest(images.get(first.tag!)!.manifest.digest).removed, true);
    assert.equal(byDigest(images.get(toMove)!.manifest.digest).removed, true);

    const digestOf = async (ref: string) => {
      const res = await getManifest(reg, REPO, ref, 'HEAD');
      return res.status === 200 ? res.header('docker-content-digest') : res.status;
    };
    assert.equal(await digestOf(first.tag!), 404);
    assert.equal(await digestOf(toMove), newImage.manifest.digest, 'the moved tag names its new manifest');
    assert.equal(await digestOf(toRepush), images.get(toRepush)!.manifest.digest);
    assert.equal(await digestOf('keep-1'), images.get('keep-1')!.manifest.digest);
  });

  it('holds a push that comes between the re-check of a tag and its delete until the delete is done, and keeps it', async () => {
    const repo = 'team/held';
    const old = await pushImage(reg, repo, 'drop-9');
    const next = await pushImage(reg, repo);
    // Pushed an hour ago (storage's time): the racing push's write of its revision is later than what the run read.
    const hourAgo = new Date(Date.now() - 3600_000);
    await utimes(path.join(root, `docker/registry/v2/repositories/${repo}/_manifests/revisions/sha256/${next.manifest.digest.slice(7)}/link`), hourAgo, hourAgo);
    const registry = reg.server.registry;
    const locks = registry.tagLocks;
    let arrived!: () => void;
    const atLock = new Promise<void>((resolve) => (arrived = resolve));
    // A push that asks for drop-9's lock says so (repositories are built per request, reading this).
    registry.tagLocks = {
      hold: (name, tag) => {
        if (name === repo && tag === 'drop-9') arrived();
        return locks.hold(name, tag);
      },
    };
    const driver = registry.driver;
    const realDelete = driver.delete;
    let push: Promise<{ status: number }> | undefined;
    // Retention has re-checked drop-9 and is about to delete it: the push comes now, and the delete
    // goes on only once the push waits for the tag's lock.
    driver.delete = async (p: string) => {
      if (p.endsWith(`/${repo}/_manifests/tags/drop-9`) && !push) {
        push = pushManifest(reg, repo, 'drop-9', next.manifest);
        await Promise.race([atLock, push.then(() => Promise.reject(new Error('the push landed without waiting for the tag lock')))]);
      }
      return realDelete(p);
    };
    try {
      const fixed: Clock = { now: () => clock.now() + 24 * 3600_000, every: () => () => undefined };
      const report = await runRetention(RETENTION, registry, { dryRun: false, clock: fixed, records: registry.records! });
      assert.equal(report.removals.find((r) => r.repository === repo && r.tag === 'drop-9')?.removed, true, 'the tag as retention read it went');
      assert.ok(push, 'the push raced the delete');
      assert.equal((await push).status, 201);
    } finally {
      driver.delete = realDelete;
      registry.tagLocks = locks;
    }
    const res = await getManifest(reg, repo, 'drop-9', 'HEAD');
    assert.equal(res.status, 200, 'the push after the delete stands');
    assert.equal(res.header('docker-content-digest'), next.manifest.digest);
    assert.notEqual(old.manifest.digest, next.manifest.digest);
  });
});
