// skopeo against the registry under test: copy an umoci-built multi-layer OCI layout in, inspect,
// list tags, copy back out and compare every digest; copy --all a multi-platform index; copy
// between two repositories; delete; sync.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import {
  type RunningRegistry, Workspace, getManifest, layoutBlob, layoutBlobDigests, layoutClosure, layoutRef, requireTools, sha256,
  startRegistry, tagList,
} from './harness.js';
import { type BuiltImage, addIndex, buildImage, multiLayerSpec } from './images.js';

describe('skopeo', () => {
  let ws: Workspace;
  let reg: RunningRegistry;
  let src: string; // OCI layout built with umoci
  let app: BuiltImage;
  let app2: BuiltImage;
  let multiDigest: string;
  let archImages: BuiltImage[];

  const tls = ['--src-tls-verify=false', '--dest-tls-verify=false'];
  const skopeo = (...args: string[]) => ws.client('skopeo', ['--policy', ws.policyFile, ...args]);
  const docker = (ref: string) => `docker://${reg.host}/${ref}`;

  before(async () => {
    requireTools('skopeo', 'umoci');
    ws = new Workspace('skopeo');
    reg = await startRegistry({ root: ws.path('registry-root') });
    src = ws.path('src-layout');
    app = await buildImage(ws, src, 'v1', multiLayerSpec('amd64'));
    app2 = await buildImage(ws, src, 'v2', { layers: [{ 'etc/hello.txt': 'second image\n' }] });
    archImages = [
      await buildImage(ws, src, 'amd64', { architecture: 'amd64', layers: [{ 'etc/arch': 'amd64\n' }] }),
      await buildImage(ws, src, 'arm64', { architecture: 'arm64', layers: [{ 'etc/arch': 'arm64\n' }] }),
    ];
    multiDigest = addIndex(src, 'multi', [
      { image: archImages[0]!, architecture: 'amd64' },
      { image: archImages[1]!, architecture: 'arm64' },
    ]).digest;
  });

  after(async () => {
    await reg?.stop();
    ws?.cleanup();
  });

  it('copies a multi-layer OCI layout to the registry with the same manifest digest', async () => {
    const digestFile = ws.path('app-v1.digest');
    await skopeo('copy', ...tls, '--digestfile', digestFile, `oci:${src}:v1`, docker('skopeo/app:v1'));
    assert.equal(readFileSync(digestFile, 'utf8').trim(), app.digest);
    await skopeo('copy', ...tls, `oci:${src}:v2`, docker('skopeo/app:v2'));

    const m = await getManifest(reg.url, 'skopeo/app', 'v1');
    assert.equal(m.status, 200);
    assert.equal(m.digest, app.digest, 'Docker-Content-Digest');
    assert.equal(sha256(m.body), app.digest, 'manifest bytes unchanged');
    assert.equal(m.contentType, 'application/vnd.oci.image.manifest.v1+json');
    for (const d of layoutBlobDigests(src, app.digest)) {
      const res = await fetch(`${reg.url}/v2/skopeo/app/blobs/${d}`);
      const body = Buffer.from(await res.arrayBuffer());
      assert.equal(res.status, 200, `GET blob ${d}`);
      assert.equal(sha256(body), d, `blob ${d} content`);
    }
  });

  it('inspect reports the pushed digest, layers and config', async () => {
    const { stdout } = await skopeo('inspect', '--tls-verify=false', docker('skopeo/app:v1'));
    const info = JSON.parse(stdout) as { Digest: string; Layers: string[]; Architecture: string; Os: string; Labels: Record<string, string> };
    const manifest = JSON.parse(layoutBlob(src, app.digest).toString()) as { layers: { digest: string }[]; config: { digest: string } };
    assert.equal(info.Digest, app.digest);
    assert.deepEqual(info.Layers, manifest.layers.map((l) => l.digest));
    assert.equal(manifest.layers.length, 3);
    assert.equal(info.Architecture, 'amd64');
    assert.equal(info.Os, 'linux');
    assert.equal(info.Labels['berth.test.tag'], 'v1');

    const raw = await skopeo('inspect', '--raw', '--tls-verify=false', docker('skopeo/app:v1'));
    assert.equal(sha256(raw.stdout), app.digest, 'inspect --raw returns the manifest bytes');
    const config = await skopeo('inspect', '--config', '--raw', '--tls-verify=false', docker('skopeo/app:v1'));
    assert.equal(sha256(config.stdout), manifest.config.digest, 'inspect --config --raw returns the config bytes');

    const byDigest = await skopeo('inspect', '--tls-verify=false', docker(`skopeo/app@${app.digest}`));
    assert.equal((JSON.parse(byDigest.stdout) as { Digest: string }).Digest, app.digest);
  });

  it('list-tags lists exactly the pushed tags', async () => {
    const { stdout } = await skopeo('list-tags', '--tls-verify=false', docker('skopeo/app'));
    const out = JSON.parse(stdout) as { Repository: string; Tags: string[] };
    assert.equal(out.Repository, `${reg.host}/skopeo/app`);
    assert.deepEqual([...out.Tags].sort(), ['v1', 'v2']);
  });

  it('copies back to a new OCI layout with every digest unchanged', async () => {
    const back = ws.path('back-layout');
    await skopeo('copy', ...tls, docker('skopeo/app:v1'), `oci:${back}:v1`);
    await skopeo('copy', ...tls, docker('skopeo/app:v2'), `oci:${back}:v2`);
    assert.equal(layoutRef(back, 'v1').digest, app.digest);
    assert.equal(layoutRef(back, 'v2').digest, app2.digest);
    assert.deepEqual(layoutClosure(back, app.digest), layoutClosure(src, app.digest));
    assert.deepEqual(layoutClosure(back, app2.digest), layoutClosure(src, app2.digest));
  });

  it('copy --all pushes a multi-platform OCI index and every platform image', async () => {
    const digestFile = ws.path('multi.digest');
    await skopeo('copy', '--all', ...tls, '--digestfile', digestFile, `oci:${src}:multi`, docker('skopeo/multi:latest'));
    assert.equal(readFileSync(digestFile, 'utf8').trim(), multiDigest);

    const idx = await getManifest(reg.url, 'skopeo/multi', 'latest');
    assert.equal(idx.status, 200);
    assert.equal(idx.contentType, 'application/vnd.oci.image.index.v1+json');
    assert.equal(sha256(idx.body), multiDigest);
    for (const img of archImages) {
      const m = await getManifest(reg.url, 'skopeo/multi', img.digest);
      assert.equal(m.status, 200, `child manifest ${img.digest}`);
      assert.equal(sha256(m.body), img.digest);
    }
    const arm = await skopeo('inspect', '--tls-verify=false', '--override-arch', 'arm64', docker('skopeo/multi:latest'));
    const armInfo = JSON.parse(arm.stdout) as { Digest: string; Architecture: string; Layers: string[] };
    assert.equal(armInfo.Digest, multiDigest, 'inspect reports the digest of the index it resolved');
    assert.equal(armInfo.Architecture, 'arm64');
    assert.deepEqual(armInfo.Layers, layoutBlobDigests(src, archImages[1]!.digest).slice(1));

    const back = ws.path('multi-back');
    await skopeo('copy', '--all', ...tls, docker('skopeo/multi:latest'), `oci:${back}:multi`);
    assert.equal(layoutRef(back, 'multi').digest, multiDigest);
    assert.deepEqual(layoutClosure(back, multiDigest), layoutClosure(src, multiDigest));
  });

  it('copies between two repositories of the registry (cross-repository mount)', async () => {
    // --debug lists each request: the blob-info cache knows the layers are in skopeo/app, so skopeo
    // asks to mount each of them; when the server mounts them, only the config is uploaded (skopeo
    // does not try to mount configs).
    const { stderr } = await skopeo('--debug', 'copy', ...tls, docker('skopeo/app:v1'), docker('skopeo/mounted:v1'));
    const requests = stderr.split('\n').filter((l) => /msg="(GET|HEAD|POST|PATCH|PUT) /.test(l));
    const manifest = JSON.parse(layoutBlob(src, app.digest).toString()) as { layers: { digest: string }[] };
    for (const { digest } of manifest.layers) {
      const mount = `mount=${encodeURIComponent(digest)}`;
      assert.ok(requests.some((l) => l.includes('/v2/skopeo/mounted/blobs/uploads/?') && l.includes(mount)),
        `skopeo tried no cross-repository mount of ${digest}:\n${requests.join('\n')}`);
    }
    const patches = requests.filter((l) => /msg="PATCH /.test(l));
    assert.ok(patches.length <= 1, `layers were uploaded instead of mounted:\n${requests.join('\n')}`);
    const m = await getManifest(reg.url, 'skopeo/mounted', 'v1');
    assert.equal(m.status, 200);
    assert.equal(sha256(m.body), app.digest);
    for (const d of layoutBlobDigests(src, app.digest)) {
      const res = await fetch(`${reg.url}/v2/skopeo/mounted/blobs/${d}`, { method: 'HEAD' });
      assert.equal(res.status, 200, `HEAD blob ${d} in the target repository`);
      assert.equal(res.headers.get('docker-content-digest'), d);
    }
    const back = ws.path('mounted-back');
    await skopeo('copy', ...tls, docker('skopeo/mounted:v1'), `oci:${back}:v1`);
    assert.deepEqual(layoutClosure(back, app.digest), layoutClosure(src, app.digest));
  });

  it('delete removes a manifest; the rest of the repository stays', async () => {
    await skopeo('copy', ...tls, `oci:${src}:v2`, docker('skopeo/doomed:keep'));
    await skopeo('copy', ...tls, `oci:${src}:v1`, docker('skopeo/doomed:gone'));
    await skopeo('delete', '--tls-verify=false', docker('skopeo/doomed:gone'));

    const gone = await getManifest(reg.url, 'skopeo/doomed', app.digest);
    assert.equal(gone.status, 404, 'deleted manifest is unknown');
    await assert.rejects(skopeo('inspect', '--tls-verify=false', docker('skopeo/doomed:gone')), /manifest unknown|not found/i);
    assert.deepEqual(await tagList(reg.url, 'skopeo/doomed'), ['keep']);
    const kept = await getManifest(reg.url, 'skopeo/doomed', 'keep');
    assert.equal(sha256(kept.body), app2.digest);
    // the same manifest in another repository is untouched
    assert.equal((await getManifest(reg.url, 'skopeo/app', 'v1')).status, 200);
  });

  it('sync copies every tag of a repository to another namespace', async () => {
    await skopeo('sync', '--src', 'docker', '--dest', 'docker', ...tls, `${reg.host}/skopeo/app`, `${reg.host}/synced`);
    assert.deepEqual(await tagList(reg.url, 'synced/app'), ['v1', 'v2']);
    assert.equal(sha256((await getManifest(reg.url, 'synced/app', 'v1')).body), app.digest);
    assert.equal(sha256((await getManifest(reg.url, 'synced/app', 'v2')).body), app2.digest);

    const dir = ws.path('sync-dir');
    await skopeo('sync', '--src', 'docker', '--dest', 'dir', '--src-tls-verify=false', `${reg.host}/synced/app`, dir);
    const synced = readFileSync(`${dir}/app:v1/manifest.json`);
    assert.equal(sha256(synced), app.digest);
  });
});
