// Retention with berth.referrers.fallbacktags: a subject's `<alg>-<hex>` tag lists its referrers
// but does not keep them. A referrer whose subject goes is removed with `deletereferrers`, and the
// subject's fallback tag goes with its last referrer; a kept image's referrer and tag stay.
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { Clock } from '../../src/clock.js';
import { parseConfig } from '../../src/config/load.js';
import { runRetention } from '../../src/policy/retention-run.js';
import { blob, emptyConfig, ociManifest, type Manifest } from '../helpers/content.js';
import { ManualClock } from '../helpers/clock.js';
import { getManifest, pushBlobs, pushImage, pushManifest, type PushedImage } from '../helpers/push.js';
import { defaultYaml } from '../helpers/registry.js';
import { startInstance, type Instance } from './instances.js';

const REPO = 'team/signed';
const POLICY = `berth:
  referrers:
    fallbacktags: true
  retention:
    delay: 0s
    policies:
      - repositories: ["team/**"]
        deleteuntagged: true
        deletereferrers: true
        keeptags:
          - patterns: ["^keep"]
`;
const RETENTION = parseConfig(defaultYaml({ extraYaml: POLICY }).replace('{{root}}', '/unused').replace('{{addr}}', '127.0.0.1:0'), {}).config.retention!;

const fallbackTag = (digest: string) => digest.replace(':', '-');

async function sign(reg: Instance, subject: PushedImage, name: string): Promise<Manifest> {
  const payload = blob(`{"signed":"${subject.manifest.digest}","by":"${name}"}`, 'application/vnd.example.signature.v1');
  await pushBlobs(reg, REPO, [emptyConfig, payload]);
  const m = ociManifest({ artifactType: 'application/vnd.example.signature.v1', config: emptyConfig.descriptor, layers: [payload.descriptor], subject: subject.manifest.descriptor });
  await pushManifest(reg, REPO, m.digest, m);
  return m;
}

describe('retention with referrers fallback tags', () => {
  let base: string;
  let reg: Instance;
  const clock = new ManualClock();
  before(async () => {
    base = await mkdtemp(path.join(os.tmpdir(), 'berth-retention-referrers-'));
    reg = await startInstance(defaultYaml({ extraYaml: POLICY }), { clock, root: path.join(base, 'storage') });
  });
  after(async () => {
    await reg?.stop();
    await rm(base, { recursive: true, force: true });
  });

  it('removes a referrer whose subject goes, and its subject\'s fallback tag with it; keeps those of a kept image', async () => {
    const old = await pushImage(reg, REPO, 'old');
    const kept = await pushImage(reg, REPO, 'keep-1');
    const oldSig = await sign(reg, old, 'ann');
    const keptSig = await sign(reg, kept, 'bob');
    assert.equal((await getManifest(reg, REPO, fallbackTag(old.manifest.digest), 'HEAD')).status, 200, 'the fallback tag lists the referrer');

    const fixed: Clock = { now: () => clock.now() + 24 * 3600_000, every: () => () => undefined };
    const report = await runRetention(RETENTION, reg.server.registry, { dryRun: false, clock: fixed, records: reg.server.registry.records! });
    const removed = report.removals.filter((r) => r.removed).map((r) => (r.kind === 'tag' ? `tag ${r.tag}` : `${r.rule} ${r.digest}`));
    assert.deepEqual(removed.sort(), ['tag old', `deleteuntagged ${old.manifest.digest}`, `deletereferrers ${oldSig.digest}`].sort());

    const status = async (ref: string) => (await getManifest(reg, REPO, ref, 'HEAD')).status;
    assert.equal(await status(oldSig.digest), 404, 'the referrer of the removed image');
    assert.equal(await status(fallbackTag(old.manifest.digest)), 404, 'its fallback tag, gone with its last referrer');
    assert.equal(await status(keptSig.digest), 200);
    const listed = await getManifest(reg, REPO, fallbackTag(kept.manifest.digest));
    assert.equal(listed.status, 200);
    assert.deepEqual((listed.json() as { manifests: Array<{ digest: string }> }).manifests.map((d) => d.digest), [keptSig.digest]);
  });
});
