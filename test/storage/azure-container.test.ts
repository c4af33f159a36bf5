/**
 * storage.azure naming a container that does not exist: created at start-up, as Distribution
 * does; credentials that cannot create it stop start-up with one line naming it; a container
 * that goes away while serving is answered 503 UNAVAILABLE naming it, never "not found".
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { blob, random, repoName } from '../helpers/content.js';
import { AZURITE_ACCOUNT, AZURITE_KEY, startAzurite, type Azurite } from '../helpers/azurite.js';
import { assertError, pushBlob, pushImage } from '../helpers/push.js';
import { REPO_ROOT, startRegistry } from '../helpers/registry.js';

function azureYaml(url: string, container: string, key = AZURITE_KEY): string {
  return [
    'version: 0.1',
    'log:',
    '  level: error',
    'storage:',
    '  azure:',
    `    accountname: ${AZURITE_ACCOUNT}`,
    `    accountkey: ${key}`,
    `    container: ${container}`,
    `    serviceurl: ${url}`,
    '  delete:',
    '    enabled: true',
    '  redirect:',
    '    disable: true',
    '  maintenance:',
    '    uploadpurging:',
    '      enabled: false',
    'http:',
    '  addr: {{addr}}',
    'berth:',
    '  metadatattl: 0s',
    '',
  ].join('\n');
}

describe('storage.azure with a missing container', () => {
  let azurite: Azurite;
  before(async () => {
    azurite = await startAzurite();
  });
  after(async () => {
    await azurite?.stop();
  });

  it('creates it at start-up and serves pushes and pulls from it', async () => {
    const name = azurite.freshName();
    assert.equal(await azurite.client.getContainerClient(name).exists(), false);
    const reg = await startRegistry({ yaml: azureYaml(azurite.url, name) });
    try {
      assert.equal(await azurite.client.getContainerClient(name).exists(), true);
      const repo = repoName('azure');
      const img = await pushImage(reg, repo, 'v1');
      const got = await reg.req('GET', `/v2/${repo}/blobs/${img.layers[0]!.digest}`);
      assert.equal(got.status, 200);
      assert.ok(got.body.equals(img.layers[0]!.data));
    } finally {
      await reg.stop();
    }
  });

  it('credentials that can neither create nor see it stop berth serve with one line naming it', async () => {
    const name = azurite.freshName();
    const dir = await mkdtemp(path.join(os.tmpdir(), 'berth-azure-config-'));
    try {
      const config = path.join(dir, 'config.yml');
      const wrongKey = Buffer.from('not the account key, but base64 all the same').toString('base64');
      await writeFile(config, azureYaml(azurite.url, name, wrongKey).replace('{{addr}}', '127.0.0.1:0'));
      const run = spawnSync(process.execPath, [path.join(REPO_ROOT, 'dist', 'cli.js'), 'serve', config], { encoding: 'utf8', timeout: 60_000 });
      assert.equal(run.status, 1, run.stderr);
      const lines = run.stderr.trim().split('\n');
      assert.equal(lines.length, 1, run.stderr);
      assert.match(lines[0]!, new RegExp(`^berth: storage\\.azure\\.container: container "${name}" does not exist and could not be created \\(403 AuthorizationFailure: `));
      assert.equal(await azurite.client.getContainerClient(name).exists(), false);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('a container deleted while serving answers 503 UNAVAILABLE naming it; recreated, the registry serves again', async () => {
    const name = await azurite.container();
    const reg = await startRegistry({ yaml: azureYaml(azurite.url, name) });
    try {
      const repo = repoName('azure');
      const before = await pushBlob(reg, repo, random(100));
      await azurite.client.getContainerClient(name).delete();
      for (const [method, p] of [['GET', `/v2/${repo}/blobs/${before}`], ['HEAD', `/v2/${repo}/blobs/${before}`], ['POST', `/v2/${repo}/blobs/uploads/`], ['GET', `/v2/${repo}/tags/list`]] as const) {
        const res = await reg.req(method, p, { allowServerError: true });
        assert.equal(res.status, 503, `${method} ${p}: ${res.status} ${res.text()}`);
        if (method !== 'HEAD') assertError(res, 503, 'UNAVAILABLE', `${method} ${p}`);
        if (method !== 'HEAD') assert.match(res.json().errors[0].message, new RegExp(`container "${name}" does not exist`));
      }
      await azurite.client.getContainerClient(name).create();
      const b = blob(random(50));
      await pushBlob(reg, repo, b.data);
      assert.equal((await reg.req('GET', `/v2/${repo}/blobs/${b.digest}`)).status, 200);
    } finally {
      await reg.stop();
    }
  });
});
