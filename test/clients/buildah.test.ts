// buildah (as root, vfs storage in the workspace) against the registry under test: build an image
// from scratch in two layers, push it as Docker v2 schema 2 and as OCI, pull it back, rmi, pull again.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { type RunningRegistry, Workspace, getManifest, requireTools, sha256, startRegistry, tarFiles } from './harness.js';

interface Manifest {
  mediaType?: string;
  config: { mediaType: string; digest: string; size: number };
  layers: { mediaType: string; digest: string; size: number }[];
}

describe('buildah', () => {
  let ws: Workspace;
  let reg: RunningRegistry;
  const hello = `hello from buildah ${Date.now()}\n`;
  const payload = randomBytes(256 * 1024);
  const pushed: Record<'docker' | 'oci', string> = { docker: '', oci: '' };

  const buildah = (...args: string[]) => ws.client('buildah', [...ws.storageFlags, ...args]);
  const ref = (tag: string) => `${reg.host}/buildah/img:${tag}`;

  before(async () => {
    requireTools('buildah');
    ws = new Workspace('buildah');
    reg = await startRegistry({ root: ws.path('registry-root') });
    writeFileSync(ws.path('hello.txt'), hello);
    writeFileSync(ws.path('payload.bin'), payload);
  });

  after(async () => {
    await reg?.stop();
    ws?.cleanup();
  });

  /** Fetches every blob of a pushed manifest and returns the files of its layers, in order. */
  async function pushedFiles(tag: string, manifest: Manifest): Promise<Map<string, Buffer>[]> {
    const layers: Map<string, Buffer>[] = [];
    for (const d of [manifest.config, ...manifest.layers]) {
      const res = await fetch(`${reg.url}/v2/buildah/img/blobs/${d.digest}`);
      const body = Buffer.from(await res.arrayBuffer());
      assert.equal(res.status, 200, `${tag}: GET blob ${d.digest}`);
      assert.equal(sha256(body), d.digest, `${tag}: blob ${d.digest} content`);
      assert.equal(body.length, d.size, `${tag}: blob ${d.digest} size`);
      if (d !== manifest.config) layers.push(tarFiles(body));
    }
    return layers;
  }

  it('builds a two-layer image from scratch', async () => {
    const base = (await buildah('from', '--signature-policy', ws.policyFile, 'scratch')).stdout.trim();
    await buildah('copy', base, ws.path('hello.txt'), '/hello.txt');
    await buildah('config', '--cmd', '/hello', '--label', 'berth.test=buildah', base);
    await buildah('commit', '--signature-policy', ws.policyFile, base, 'localhost/berth-base:latest');
    const top = (await buildah('from', '--signature-policy', ws.policyFile, 'localhost/berth-base:latest')).stdout.trim();
    await buildah('copy', top, ws.path('payload.bin'), '/data/payload.bin');
    await buildah('commit', '--signature-policy', ws.policyFile, top, 'localhost/berth-img:latest');
    await buildah('rm', base, top);
    const { stdout } = await buildah('inspect', '--type', 'image', 'localhost/berth-img:latest');
    const info = JSON.parse(stdout) as { OCIv1: { rootfs: { diff_ids: string[] } } };
    assert.equal(info.OCIv1.rootfs.diff_ids.length, 2);
  });

  it('pushes with --format docker (Docker v2 schema 2)', async () => {
    const digestFile = ws.path('docker.digest');
    await buildah('push', '--signature-policy', ws.policyFile, '--tls-verify=false', '--format', 'docker', '--digestfile', digestFile,
      'localhost/berth-img:latest', `docker://${ref('docker')}`);
    pushed.docker = readFileSync(digestFile, 'utf8').trim();
    const m = await getManifest(reg.url, 'buildah/img', 'docker');
    assert.equal(m.status, 200);
    assert.equal(m.contentType, 'application/vnd.docker.distribution.manifest.v2+json');
    assert.equal(m.digest, pushed.docker, 'Docker-Content-Digest');
    assert.equal(sha256(m.body), pushed.docker);
    const manifest = JSON.parse(m.body.toString()) as Manifest;
    assert.equal(manifest.mediaType, 'application/vnd.docker.distribution.manifest.v2+json');
    assert.equal(manifest.config.mediaType, 'application/vnd.docker.container.image.v1+json');
    assert.equal(manifest.layers.length, 2);
    for (const l of manifest.layers) assert.equal(l.mediaType, 'application/vnd.docker.image.rootfs.diff.tar.gzip');
    const [first, second] = await pushedFiles('docker', manifest);
    assert.equal(first!.get('hello.txt')?.toString(), hello);
    assert.ok(second!.get('data/payload.bin')?.equals(payload), 'second layer holds the payload');
  });

  it('pushes with --format oci', async () => {
    const digestFile = ws.path('oci.digest');
    await buildah('push', '--signature-policy', ws.policyFile, '--tls-verify=false', '--format', 'oci', '--digestfile', digestFile,
      'localhost/berth-img:latest', `docker://${ref('oci')}`);
    pushed.oci = readFileSync(digestFile, 'utf8').trim();
    assert.notEqual(pushed.oci, pushed.docker);
    const m = await getManifest(reg.url, 'buildah/img', 'oci');
    assert.equal(m.status, 200);
    assert.equal(m.contentType, 'application/vnd.oci.image.manifest.v1+json');
    assert.equal(sha256(m.body), pushed.oci);
    const manifest = JSON.parse(m.body.toString()) as Manifest;
    assert.equal(manifest.config.mediaType, 'application/vnd.oci.image.config.v1+json');
    for (const l of manifest.layers) assert.equal(l.mediaType, 'application/vnd.oci.image.layer.v1.tar+gzip');
    const [first, second] = await pushedFiles('oci', manifest);
    assert.equal(first!.get('hello.txt')?.toString(), hello);
    assert.ok(second!.get('data/payload.bin')?.equals(payload));
  });

  it('pulls back after rmi, with the pushed digest and content', async () => {
    await buildah('rmi', '--all', '--force');
    assert.equal((await buildah('images', '--quiet')).stdout.trim(), '');
    for (const tag of ['docker', 'oci'] as const) {
      await buildah('pull', '--signature-policy', ws.policyFile, '--tls-verify=false', ref(tag));
      const { stdout } = await buildah('inspect', '--type', 'image', ref(tag));
      assert.equal((JSON.parse(stdout) as { FromImageDigest: string }).FromImageDigest, pushed[tag], `${tag}: pulled digest`);
      const ctr = (await buildah('from', '--signature-policy', ws.policyFile, ref(tag))).stdout.trim();
      const mnt = (await buildah('mount', ctr)).stdout.trim();
      assert.equal(readFileSync(join(mnt, 'hello.txt'), 'utf8'), hello, `${tag}: /hello.txt`);
      assert.ok(readFileSync(join(mnt, 'data/payload.bin')).equals(payload), `${tag}: /data/payload.bin`);
      await buildah('umount', ctr);
      await buildah('rm', ctr);
    }
  });

  it('rmi, then pull again', async () => {
    await buildah('rmi', '--all', '--force');
    await buildah('pull', '--signature-policy', ws.policyFile, '--tls-verify=false', ref('docker'));
    const { stdout } = await buildah('images', '--json');
    const images = JSON.parse(stdout) as { names: string[]; digest: string }[];
    assert.equal(images.length, 1);
    assert.deepEqual(images[0]!.names, [ref('docker')]);
    assert.equal(images[0]!.digest, pushed.docker);
  });
});
