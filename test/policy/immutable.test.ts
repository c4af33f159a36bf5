// Immutable tags (berth.immutabletags) over HTTP: once such a tag exists, moving it, deleting it,
// deleting its manifest, a blob its image needs or its repository is refused with 403 DENIED
// naming the tag and the rule; pushing the same manifest again succeeds; other tags and other
// repositories are not affected; of pushes of a new immutable tag to different manifests at the
// same moment exactly one wins.
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { defaultYaml } from '../helpers/registry.js';
import { assertError, getManifest, pushImage, putManifest, pushManifest } from '../helpers/push.js';
import { ManualClock } from '../helpers/clock.js';
import { immutableRule } from '../../src/policy/immutable.js';
import { raceImmutableTags, startInstance, type Instance } from './instances.js';

const POLICY = `berth:
  immutabletags:
    - repositories: ["team/**"]
      tags: ["^v[0-9]+\\\\.[0-9]+\\\\.[0-9]+$", "^stable$"]
`;

function message(res: { json(): { errors: Array<{ message: string }> } }): string {
  return res.json().errors[0]!.message;
}

describe('immutable tags: which tags a rule covers', () => {
  const rules = [{ repositories: ['team/**'], tags: ['^v[0-9]+$'] }, { repositories: ['solo'], tags: ['.'] }];
  it('matches repositories by glob and tags by regular expression; referrers fallback tags never', () => {
    assert.equal(immutableRule(rules, 'team/app', 'v1'), 0);
    assert.equal(immutableRule(rules, 'team/a/b', 'v12'), 0);
    assert.equal(immutableRule(rules, 'team/app', 'v1-rc'), undefined);
    assert.equal(immutableRule(rules, 'teams/app', 'v1'), undefined);
    assert.equal(immutableRule(rules, 'solo', 'anything'), 1);
    assert.equal(immutableRule(rules, 'solo', `sha256-${'a'.repeat(64)}`), undefined);
  });
});

describe('immutable tags over HTTP', () => {
  let base: string;
  let reg: Instance;
  before(async () => {
    base = await mkdtemp(path.join(os.tmpdir(), 'berth-immutable-'));
    reg = await startInstance(defaultYaml({ deleteEnabled: true, extraYaml: POLICY }), { clock: new ManualClock(), root: path.join(base, 'storage') });
  });
  after(async () => {
    await reg?.stop();
    await rm(base, { recursive: true, force: true });
  });

  it('refuses to move an existing immutable tag, and accepts the same manifest again', async () => {
    const a = await pushImage(reg, 'team/app', 'v1.0.0');
    const b = await pushImage(reg, 'team/app');
    await pushManifest(reg, 'team/app', 'v1.0.0', a.manifest);
    const moved = await putManifest(reg, 'team/app', 'v1.0.0', b.manifest);
    assertError(moved, 403, 'DENIED');
    assert.match(message(moved), /tag v1\.0\.0 of team\/app is immutable \(berth\.immutabletags\[0\]/);
    assert.match(message(moved), new RegExp(`points at ${a.manifest.digest}`));
    assert.equal((await getManifest(reg, 'team/app', 'v1.0.0')).header('docker-content-digest'), a.manifest.digest);
  });

  it('refuses to delete the tag, its manifest, a blob of its image, or its repository', async () => {
    const img = await pushImage(reg, 'team/app', 'stable');
    const tagDelete = await reg.req('DELETE', '/v2/team/app/manifests/stable');
    assertError(tagDelete, 403, 'DENIED');
    assert.match(message(tagDelete), /tag stable of team\/app is immutable .*cannot be deleted/);
    assertError(await reg.req('DELETE', `/v2/team/app/manifests/${img.manifest.digest}`), 403, 'DENIED');
    const blobDelete = await reg.req('DELETE', `/v2/team/app/blobs/${img.layers[0]!.digest}`);
    assertError(blobDelete, 403, 'DENIED');
    assert.match(message(blobDelete), /its image references blob/);
    assertError(await reg.req('DELETE', '/v2/_berth/repositories/team/app'), 403, 'DENIED');
    assert.equal((await getManifest(reg, 'team/app', 'stable')).status, 200);
    assert.equal((await reg.req('HEAD', `/v2/team/app/blobs/${img.layers[0]!.digest}`)).status, 200);
  });

  it('leaves other tags and other repositories mutable', async () => {
    const a = await pushImage(reg, 'team/app', 'latest');
    const b = await pushImage(reg, 'team/app');
    await pushManifest(reg, 'team/app', 'latest', b.manifest);
    assert.equal((await reg.req('DELETE', '/v2/team/app/manifests/latest')).status, 202);
    assert.equal((await reg.req('DELETE', `/v2/team/app/manifests/${a.manifest.digest}`)).status, 202, 'a manifest no immutable tag names');
    const other = await pushImage(reg, 'other/app', 'v1.0.0');
    const next = await pushImage(reg, 'other/app');
    await pushManifest(reg, 'other/app', 'v1.0.0', next.manifest);
    assert.equal((await reg.req('DELETE', `/v2/other/app/manifests/${other.manifest.digest}`)).status, 202);
  });

  it('of pushes of a new immutable tag to different manifests at the same moment, exactly one wins', async () => {
    await raceImmutableTags([reg], 'team/race', ['v2.0.0', 'v2.0.1', 'v2.0.2', 'v2.0.3', 'v2.0.4', 'stable'], /berth\.immutabletags\[0\]/);
  });
});
