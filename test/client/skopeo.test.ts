// Cross-checks with skopeo, both ways: what the client copies (from an umoci-built layout into
// Berth, or out of Berth into a layout), skopeo reads back with the same digests; what skopeo
// copies, the client reads and copies on with the same digests. Multi-platform indexes included.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import { copy } from '../../src/client/copy/copy.js';
import { Registry } from '../../src/client/remote/registry.js';
import { Workspace, layoutClosure, layoutRef, requireTools, sha256 } from '../clients/harness.js';
import { addIndex, buildImage, multiLayerSpec, type BuiltImage } from '../clients/images.js';
import { startTestRegistry, uniqueRepo, type TestRegistry } from './fixtures.js';

describe('client and skopeo read each other\'s copies', () => {
  let ws: Workspace;
  let reg: TestRegistry;
  let src: string;
  let app: BuiltImage;
  let multi: string;
  const client = { credentials: null } as const;
  const skopeo = (...args: string[]) => ws.client('skopeo', ['--policy', ws.policyFile, ...args]);
  const tls = ['--src-tls-verify=false', '--dest-tls-verify=false'];

  before(async () => {
    requireTools('skopeo', 'umoci');
    ws = new Workspace('client-skopeo');
    reg = await startTestRegistry('berth');
    src = ws.path('src');
    app = await buildImage(ws, src, 'v1', multiLayerSpec('amd64'));
    const amd = await buildImage(ws, src, 'amd64', { architecture: 'amd64', layers: [{ 'etc/arch': 'amd64\n' }] });
    const arm = await buildImage(ws, src, 'arm64', { architecture: 'arm64', layers: [{ 'etc/arch': 'arm64\n' }] });
    multi = addIndex(src, 'multi', [{ image: amd, architecture: 'amd64' }, { image: arm, architecture: 'arm64' }]).digest;
  });
  after(async () => {
    await reg?.stop();
    ws?.cleanup();
  });

  it('client copies an umoci layout into the registry; skopeo reads it back with the same digests', async () => {
    const repo = uniqueRepo('sk');
    for (const tag of ['v1', 'multi']) await copy(`oci:${src}:${tag}`, `${reg.host}/${repo}:${tag}`, { client });
    const raw = await skopeo('inspect', '--raw', '--tls-verify=false', `docker://${reg.host}/${repo}:v1`);
    assert.equal(sha256(raw.stdout), app.digest);
    const out = ws.path('out-skopeo');
    await skopeo('copy', ...tls, `docker://${reg.host}/${repo}:v1`, `oci:${out}:v1`);
    await skopeo('copy', ...tls, '--all', `docker://${reg.host}/${repo}:multi`, `oci:${out}:multi`);
    assert.equal(layoutRef(out, 'v1').digest, app.digest);
    assert.equal(layoutRef(out, 'multi').digest, multi);
    assert.deepEqual(layoutClosure(out, app.digest).sort(), layoutClosure(src, app.digest).sort());
    assert.deepEqual(layoutClosure(out, multi).sort(), layoutClosure(src, multi).sort());
  });

  it('skopeo copies into the registry; the client copies it out to a layout skopeo and umoci read', async () => {
    const repo = uniqueRepo('sk');
    await skopeo('copy', ...tls, `oci:${src}:v1`, `docker://${reg.host}/${repo}:v1`);
    await skopeo('copy', ...tls, '--all', `oci:${src}:multi`, `docker://${reg.host}/${repo}:multi`);
    assert.equal((await new Registry(reg.host, client).repository(repo).resolve('multi')).digest.value, multi);
    const out = ws.path('out-client');
    await copy(`${reg.host}/${repo}:v1`, `oci:${out}:v1`, { client });
    await copy(`${reg.host}/${repo}:multi`, `oci:${out}:multi`, { client });
    assert.deepEqual(layoutClosure(out, app.digest).sort(), layoutClosure(src, app.digest).sort());
    assert.deepEqual(layoutClosure(out, multi).sort(), layoutClosure(src, multi).sort());
    const inspected = JSON.parse((await skopeo('inspect', `oci:${out}:v1`)).stdout) as { Digest: string; Architecture: string };
    assert.equal(inspected.Digest, app.digest);
    assert.equal(sha256((await skopeo('inspect', '--raw', `oci:${out}:multi`)).stdout), multi);
    const listed = (await ws.tool('umoci', ['ls', '--layout', out])).stdout.split('\n').filter(Boolean).sort();
    assert.deepEqual(listed, ['multi', 'v1']);
    assert.equal(JSON.parse(readFileSync(`${out}/oci-layout`, 'utf8')).imageLayoutVersion, '1.0.0');
    // And skopeo copies the client's layout on, byte for byte.
    await skopeo('copy', ...tls, '--all', `oci:${out}:multi`, `docker://${reg.host}/${repo}:again`);
    assert.equal((await new Registry(reg.host, client).repository(repo).resolve('again')).digest.value, multi);
  });
});
