// Policy in `berth serve` with two workers on the filesystem, no Redis: the storage gauges show on
// the primary's /metrics once, not once per worker (each worker keeps a copy: aggregated by max),
// of pushes of a new immutable tag to different manifests at the same moment, spread over both
// workers, exactly one wins (the tag's lock is held through the primary); and pushes landing on
// both workers at once cannot pass a quota together.
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { random } from '../helpers/content.js';
import { ManualClock } from '../helpers/clock.js';
import { errorCodes, pushBlob, startUpload, withQuery } from '../helpers/push.js';
import { blob } from '../helpers/content.js';
import { defaultYaml, freePort, type Registry } from '../helpers/registry.js';
import { startWorkers, until } from '../cluster/helpers.js';
import { byLabel, debugYaml, raceImmutableTags, scrape, startInstance } from './instances.js';

const POLICY = `berth:
  quotas:
    - repositories: ["team/**"]
      maxbytes: 10000
    - repositories: ["crowd/**"]
      maxbytes: 7000
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

  it('counts pushes in flight on every worker: of 8 blobs of 2,000 bytes pushed at once, exactly 3 fit a 7,000-byte quota', async () => {
    const blobs = Array.from({ length: 8 }, () => blob(random(2000)));
    // Every upload opened first, then all eight PUTs at once on their own connections (spread
    // over the workers), so their quota checks meet.
    const uploads: string[] = [];
    for (const _ of blobs) uploads.push((await startUpload(registry, 'crowd/app')).location);
    const puts = await Promise.all(
      blobs.map((b, i) =>
        registry.req('PUT', withQuery(uploads[i]!, { digest: b.digest }), { body: b.data, headers: { 'Content-Type': 'application/octet-stream', Connection: 'close' } }),
      ),
    );
    const statuses = puts.map((r) => r.status);
    assert.equal(statuses.filter((s) => s === 201).length, 3, `statuses: ${statuses.join(' ')}`);
    for (const r of puts.filter((r) => r.status !== 201)) {
      assert.equal(r.status, 403);
      assert.deepEqual(errorCodes(r), ['DENIED']);
    }
    await until('the quota in the metrics', async () => byLabel(await scrape(debugUrl), 'berth_quota_used_bytes')['berth.quotas[1]'] === 6000);
  });
});
