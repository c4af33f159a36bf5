// Real clients pulling through the mirror, with Distribution 2.8.2 (Debian's docker-registry) as
// the upstream: skopeo inspect and copy, podman pull, and podman pulling again from the cache once
// the upstream is stopped. Clients run isolated as in test/clients (see harness.ts).
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import { type RunningRegistry, Workspace, requireTools, startRegistry } from '../clients/harness.js';
import { type BuiltImage, buildImage, multiLayerSpec } from '../clients/images.js';
import { type Berth, startBerth } from './helpers.js';

describe('skopeo and podman through the mirror of a Distribution 2.8.2 upstream', () => {
  let ws: Workspace;
  let upstream: RunningRegistry;
  let mirror: Berth;
  let mirrorHost: string;
  let app: BuiltImage;
  const skopeo = (...args: string[]) => ws.client('skopeo', ['--policy', ws.policyFile, ...args]);
  const podman = (...args: string[]) => ws.client('podman', [...ws.storageFlags, ...args]);

  before(async () => {
    requireTools('skopeo', 'podman', 'umoci', 'docker-registry');
    ws = new Workspace('mirror-clients');
    upstream = await startRegistry({ kind: 'distribution', root: ws.path('upstream-root') });
    const src = ws.path('src-layout');
    app = await buildImage(ws, src, 'v1', multiLayerSpec('amd64'));
    await skopeo('copy', '--dest-tls-verify=false', `oci:${src}:v1`, `docker://${upstream.host}/library/app:v1`);
    mirror = await startBerth(ws.path('mirror-root'), `proxy:\n  remoteurl: ${upstream.url}\n`);
    mirrorHost = mirror.url.replace(/^http:\/\//, '');
  });

  after(async () => {
    await mirror?.close();
    await upstream?.stop();
    ws?.cleanup();
  });

  it('skopeo inspects and copies an image through the mirror, digests unchanged', async () => {
    const { stdout } = await skopeo('inspect', '--tls-verify=false', `docker://${mirrorHost}/library/app:v1`);
    assert.equal((JSON.parse(stdout) as { Digest: string }).Digest, app.digest);
    const digestFile = ws.path('copy.digest');
    await skopeo('copy', '--src-tls-verify=false', '--digestfile', digestFile, `docker://${mirrorHost}/library/app:v1`, `oci:${ws.path('out-layout')}:v1`);
    assert.equal(readFileSync(digestFile, 'utf8').trim(), app.digest);
  });

  it('podman pulls through the mirror, and again from the cache once the upstream is stopped', async () => {
    const policy = ['--signature-policy', ws.policyFile];
    await podman('pull', ...policy, '--tls-verify=false', `${mirrorHost}/library/app:v1`);
    const inspect = async () => (JSON.parse((await podman('image', 'inspect', `${mirrorHost}/library/app:v1`)).stdout) as { Digest: string }[])[0]!.Digest;
    assert.equal(await inspect(), app.digest);

    await upstream.stop();
    await podman('rmi', '--all', '--force');
    await podman('pull', ...policy, '--tls-verify=false', `${mirrorHost}/library/app:v1`);
    assert.equal(await inspect(), app.digest);
  });
});
