// Storage used per repository and per quota rule, as Prometheus gauges on /metrics
// (docs/policy.md, "Metrics"): the repositories a berth.quotas rule covers, a rule without
// maxbytes measuring without limiting; each distinct blob once per repository and once per shared
// rule; deletes show at once. (With two workers: test/policy/workers.test.ts.)
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { random } from '../helpers/content.js';
import { ManualClock } from '../helpers/clock.js';
import { pushBlob } from '../helpers/push.js';
import { defaultYaml } from '../helpers/registry.js';
import { byLabel, debugYaml, scrape, startInstance, type Instance } from './instances.js';

const POLICY = `berth:
  quotas:
    - repositories: ["team/**"]
      maxbytes: 10000
    - repositories: ["**"]
`;

describe('storage metrics, one process', () => {
  let base: string;
  let reg: Instance;
  before(async () => {
    base = await mkdtemp(path.join(os.tmpdir(), 'berth-quota-metrics-'));
    const yaml = defaultYaml({ extraYaml: POLICY }).replace('http:\n  addr: {{addr}}\n', `http:\n  addr: {{addr}}\n${debugYaml('127.0.0.1:0')}`);
    reg = await startInstance(yaml, { clock: new ManualClock(), root: path.join(base, 'storage') });
  });
  after(async () => {
    await reg?.stop();
    await rm(base, { recursive: true, force: true });
  });

  it('serves the bytes each repository links, each rule\'s usage and its limit, and follows deletes', async () => {
    const debugUrl = reg.server.debugUrl!;
    const shared = await pushBlob(reg, 'team/a', random(3000));
    assert.equal((await reg.req('POST', `/v2/team/b/blobs/uploads/?mount=${shared}&from=team/a`)).status, 201);
    const own = await pushBlob(reg, 'team/b', random(2000));
    await pushBlob(reg, 'other/x', random(1500));

    let m = await scrape(debugUrl);
    assert.deepEqual(byLabel(m, 'berth_repository_storage_bytes'), { 'team/a': 3000, 'team/b': 5000, 'other/x': 1500 });
    // The shared rule counts the mounted blob once; the measuring rule covers every repository.
    assert.deepEqual(byLabel(m, 'berth_quota_used_bytes'), { 'berth.quotas[0]': 5000, 'berth.quotas[1]': 6500 });
    assert.deepEqual(byLabel(m, 'berth_quota_limit_bytes'), { 'berth.quotas[0]': 10000 }, 'a rule without maxbytes has no limit');

    assert.equal((await reg.req('DELETE', `/v2/team/b/blobs/${own}`)).status, 202);
    m = await scrape(debugUrl);
    assert.equal(byLabel(m, 'berth_repository_storage_bytes')['team/b'], 3000);
    assert.equal(byLabel(m, 'berth_quota_used_bytes')['berth.quotas[0]'], 3000);
    // The measuring rule refuses nothing: far past any figure, a push still fits.
    await pushBlob(reg, 'other/x', random(20_000));
    assert.equal(byLabel(await scrape(debugUrl), 'berth_repository_storage_bytes')['other/x'], 21_500);
  });
});
