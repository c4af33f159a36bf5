// `berth retention CONFIG [--dry-run] [--json]` and `berth quota CONFIG [--json]`, run as users run
// them (the built dist/cli.js) on a root a registry wrote.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { ManualClock } from '../helpers/clock.js';
import { getManifest, pushImage } from '../helpers/push.js';
import { defaultYaml } from '../helpers/registry.js';
import { startInstance } from './instances.js';

const cli = fileURLToPath(new URL('../../dist/cli.js', import.meta.url));
const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('REGISTRY_')));

const POLICY = `berth:
  retention:
    policies:
      - repositories: ["team/*"]
        keeptags:
          - patterns: ["^keep"]
  quotas:
    - repositories: ["team/*"]
      maxbytes: 1MiB
    - repositories: ["**"]
      each: true
`;

function berth(...args: string[]) {
  return spawnSync(process.execPath, [cli, ...args], { encoding: 'utf8', env, timeout: 60_000 });
}

describe('berth retention and berth quota', () => {
  let base: string;
  let config: string;
  const digests = new Map<string, string>();
  before(async () => {
    base = await mkdtemp(path.join(os.tmpdir(), 'berth-policy-cli-'));
    const root = path.join(base, 'storage');
    const reg = await startInstance(defaultYaml(), { clock: new ManualClock(), root });
    for (const tag of ['keep-1', 'drop-1', 'drop-2']) digests.set(tag, (await pushImage(reg, 'team/app', tag, { layerSize: 1000 })).manifest.digest);
    await reg.stop();
    config = path.join(base, 'config.yml');
    await writeFile(config, defaultYaml({ extraYaml: POLICY }).replace('{{root}}', root).replace('{{addr}}', '127.0.0.1:0'));
  });
  after(async () => {
    await rm(base, { recursive: true, force: true });
  });

  it('quota prints each rule with its limit and usage', () => {
    const out = berth('quota', config);
    assert.equal(out.status, 0, out.stderr);
    assert.match(out.stdout, /^berth\.quotas\[0\] \(repositories team\/\*\): limit 1 MiB \(1048576 bytes\)\n {2}shared: [0-9.]+ KiB \(\d+ bytes\) [0-9.]+%\n/);
    // A rule without maxbytes measures: each repository's usage, no limit, no percentage.
    assert.match(out.stdout, /\nberth\.quotas\[1\] \(repositories \*\*, each\): no limit \(measured only\)\n {2}team\/app: [0-9.]+ KiB \(\d+ bytes\)\n$/);
    const json = JSON.parse(berth('quota', config, '--json').stdout);
    assert.ok(json[0].usage[0].used >= 3000, 'three layers of 1000 bytes, configs and manifests');
  });

  it('retention --dry-run prints what it would remove and removes nothing; a run removes it', async () => {
    const dry = berth('retention', config, '--dry-run');
    assert.equal(dry.status, 0, dry.stderr);
    const lines = dry.stdout.trim().split('\n');
    assert.equal(lines.length, 3);
    for (const [i, tag] of ['drop-1', 'drop-2'].entries()) {
      const expected = `team/app: tag ${tag} (${digests.get(tag)}) would be removed: berth.retention.policies[0] keeptags: no keeptags rule keeps it (pushed `;
      assert.ok(lines[i]!.startsWith(expected), lines[i]);
      assert.match(lines[i]!, /, never pulled\)$/);
    }
    assert.equal(lines[2], '1 repositories, 2 decided, dry run: nothing removed');
    const json = JSON.parse(berth('retention', config, '--dry-run', '--json').stdout);
    assert.deepEqual(json.removals.map((r: { tag: string }) => r.tag), ['drop-1', 'drop-2']);

    const run = berth('retention', config);
    assert.equal(run.status, 0, run.stderr);
    assert.match(run.stdout, /team\/app: tag drop-1 \(sha256:[0-9a-f]+\) removed: /);
    assert.match(run.stdout, /1 repositories, 2 decided, 2 removed\n$/);
    const reg = await startInstance(defaultYaml(), { clock: new ManualClock(), root: path.join(base, 'storage') });
    try {
      assert.equal((await getManifest(reg, 'team/app', 'keep-1', 'HEAD')).status, 200);
      for (const tag of ['drop-1', 'drop-2']) assert.equal((await getManifest(reg, 'team/app', tag, 'HEAD')).status, 404);
    } finally {
      await reg.stop();
    }
  });
});
