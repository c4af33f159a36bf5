// Policy in `berth serve` with two workers on the filesystem, no Redis: the storage gauges show on
// the primary's /metrics once, not once per worker (each worker keeps a copy: aggregated by max),
// and of pushes of a new immutable tag to different manifests at the same moment, spread over
// both workers, exactly one wins (the tag's lock is held through the primary).
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { random } from '../helpers/content.js';
import { ManualClock } from '../helpers/clock.js';
import { pushBlob } from '../helpers/push.js';
import { defaultYaml, freePort, type Registry } from '../helpers/registry.js';
import { startWorkers, until } from '../cluster/helpers.js';
import { byLabel, debugYaml, raceImmutableTags, scrape, startInstance } from './instances.js';

const POLICY = `berth:
  quotas:
    - repositories: ["team/**"]
      maxbytes: 10000
  immutabletags:
    - repositories: ["race/*"]
      tags: ["^v"]
`;

describe('policy with two workers', () => {
  let base: string;
  let registry: Registry;
  let debugUrl: string;
  before(async () => {
    base = await mkdtemp(path.join(os.tmpdir(), 'berth-policy-workers-'));
    // Content already in the layout: both workers read it at start, so each holds the same figures.
    const first = await startInstance(defaultYaml({ extraYaml: POLICY }), { clock: new ManualClock(), root: path.join(base, 'storage') });
    try {
      await pushBlob(first, 'team/a', random(3000));
    } finally {
      await first.stop();
    }
    const port = await freePort();
    debugUrl = `http://127.0.0.1:${port}`;
    const yaml = defaultYaml({ extraYaml: POLICY })
      .replace('  level: error\n', '  level: info\n  formatter: json\n')
      .replace('http:\n  addr: {{addr}}\n', `http:\n  addr: {{addr}}\n${debugYaml(`127.0.0.1:${port}`)}`);
    registry = await startWorkers(2, { base, yaml });
  });
  after(async () => {
    await registry?.stop();
    await rm(base, { recursive: true, force: true });
  });

  it('shows each storage figure once, not once per worker', async () => {
    let m = await scrape(debugUrl);
    assert.equal(byLabel(m, 'berth_repository_storage_bytes')['team/a'], 3000);
    assert.equal(byLabel(m, 'berth_quota_used_bytes')['berth.quotas[0]'], 3000);
    assert.equal(byLabel(m, 'berth_quota_limit_bytes')['berth.quotas[0]'], 10000);

    // A push to whichever worker takes it reaches the figures; a delete takes it away again.
    const added = await pushBlob(registry, 'team/a', random(1000));
    await until('the push in the metrics', async () => byLabel(await scrape(debugUrl), 'berth_repository_storage_bytes')['team/a'] === 4000);
    assert.equal((await registry.req('DELETE', `/v2/team/a/blobs/${added}`)).status, 202);
    await until('the delete in the metrics', async () => byLabel(await scrape(debugUrl), 'berth_quota_used_bytes')['berth.quotas[0]'] === 3000);
    m = await scrape(debugUrl);
    assert.equal(byLabel(m, 'berth_repository_storage_bytes')['team/a'], 3000);
  });

  it('of pushes of a new immutable tag to different manifests at the same moment, exactly one wins', async () => {
    await raceImmutableTags([registry], 'race/app', ['v1', 'v2', 'v3', 'v4', 'v5', 'v6'], /berth\.immutabletags\[0\] \(repositories race\/\*, tags \^v\)/, 4);
  });
});
