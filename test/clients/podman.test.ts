// podman (as root, vfs storage in the workspace) against the registry under test: push an image
// imported from a rootfs tarball, pull it back and check digest and files; a multi-platform
// manifest list via `podman manifest`; login/logout against a registry with htpasswd auth.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import {
  type RunningRegistry, Workspace, getManifest, registryConfig, requireTools, sha256, startRegistry, tarFiles,
} from './harness.js';

interface Manifest {
  mediaType?: string;
  manifests?: { digest: string; platform?: { architecture: string } }[];
  config: { digest: string };
  layers: { digest: string; size: number }[];
}

describe('podman', () => {
  let ws: Workspace;
  let reg: RunningRegistry;
  let authReg: RunningRegistry | undefined;
  const hello = `hello from podman ${Date.now()}\n`;
  const payload = randomBytes(300 * 1024);
  let pushedDigest = '';

  const podman = (...args: string[]) => ws.client('podman', [...ws.storageFlags, ...args]);
  const policy = () => ['--signature-policy', ws.policyFile];

  before(async () => {
    requireTools('podman', 'tar', 'htpasswd');
    ws = new Workspace('podman');
    reg = await startRegistry({ root: ws.path('registry-root') });
    const rootfs = ws.path('rootfs');
    mkdirSync(join(rootfs, 'etc'), { recursive: true });
    mkdirSync(join(rootfs, 'data'), { recursive: true });
    writeFileSync(join(rootfs, 'etc/hello.txt'), hello);
    writeFileSync(join(rootfs, 'data/payload.bin'), payload);
    await ws.tool('tar', ['-C', rootfs, '-cf', ws.path('rootfs.tar'), '.']);
  });

  after(async () => {
    await reg?.stop();
    await authReg?.stop();
    ws?.cleanup();
  });

  it('pushes an imported image with the digest it reports', async () => {
    await podman('import', '--change', 'CMD=/hello', ws.path('rootfs.tar'), 'localhost/berth-podman:latest');
    const digestFile = ws.path('push.digest');
    await podman('push', ...policy(), '--tls-verify=false', '--digestfile', digestFile,
      'localhost/berth-podman:latest', `docker://${reg.host}/podman/img:v1`);
    pushedDigest = readFileSync(digestFile, 'utf8').trim();
    const m = await getManifest(reg.url, 'podman/img', 'v1');
    assert.equal(m.status, 200);
    assert.equal(m.digest, pushedDigest, 'Docker-Content-Digest');
    assert.equal(sha256(m.body), pushedDigest);
    const manifest = JSON.parse(m.body.toString()) as Manifest;
    assert.equal(manifest.layers.length, 1);
    const res = await fetch(`${reg.url}/v2/podman/img/blobs/${manifest.layers[0]!.digest}`);
    const layer = Buffer.from(await res.arrayBuffer());
    assert.equal(sha256(layer), manifest.layers[0]!.digest);
    const files = tarFiles(layer);
    assert.equal(files.get('etc/hello.txt')?.toString(), hello);
    assert.ok(files.get('data/payload.bin')?.equals(payload));
  });

  it('pulls back after rmi with the same digest and files', async () => {
    await podman('rmi', '--all', '--force');
    await podman('pull', ...policy(), '--tls-verify=false', `${reg.host}/podman/img:v1`);
    const { stdout } = await podman('image', 'inspect', `${reg.host}/podman/img:v1`);
    const [info] = JSON.parse(stdout) as { Digest: string; RepoDigests: string[] }[];
    assert.equal(info!.Digest, pushedDigest);
    assert.ok(info!.RepoDigests.includes(`${reg.host}/podman/img@${pushedDigest}`), info!.RepoDigests.join(', '));
    const mnt = (await podman('image', 'mount', `${reg.host}/podman/img:v1`)).stdout.trim();
    assert.equal(readFileSync(join(mnt, 'etc/hello.txt'), 'utf8'), hello);
    assert.ok(readFileSync(join(mnt, 'data/payload.bin')).equals(payload));
    await podman('image', 'unmount', `${reg.host}/podman/img:v1`);
    // pull by digest too
    await podman('pull', ...policy(), '--tls-verify=false', `${reg.host}/podman/img@${pushedDigest}`);
  });

  it('pushes a multi-platform manifest list and pulls one platform from it', async () => {
    await podman('manifest', 'create', 'localhost/berth-list:latest');
    for (const arch of ['amd64', 'arm64']) {
      await podman('import', '--arch', arch, '--change', `LABEL arch=${arch}`, ws.path('rootfs.tar'), `localhost/berth-${arch}:latest`);
      await podman('manifest', 'add', '--arch', arch, 'localhost/berth-list:latest', `containers-storage:localhost/berth-${arch}:latest`);
    }
    const digestFile = ws.path('list.digest');
    await podman('manifest', 'push', '--all', '--tls-verify=false', '--digestfile', digestFile,
      'localhost/berth-list:latest', `docker://${reg.host}/podman/list:latest`);
    const listDigest = readFileSync(digestFile, 'utf8').trim();
    const m = await getManifest(reg.url, 'podman/list', 'latest');
    assert.equal(m.status, 200);
    assert.equal(sha256(m.body), listDigest);
    assert.match(m.contentType, /manifest\.list\.v2\+json|image\.index\.v1\+json/);
    const list = JSON.parse(m.body.toString()) as Manifest;
    assert.deepEqual(list.manifests!.map((d) => d.platform?.architecture).sort(), ['amd64', 'arm64']);
    for (const d of list.manifests!) {
      const child = await getManifest(reg.url, 'podman/list', d.digest);
      assert.equal(child.status, 200);
      assert.equal(sha256(child.body), d.digest);
    }
    const arm = list.manifests!.find((d) => d.platform?.architecture === 'arm64')!;
    await podman('rmi', '--all', '--force');
    await podman('pull', ...policy(), '--tls-verify=false', '--arch', 'arm64', `${reg.host}/podman/list:latest`);
    const { stdout } = await podman('image', 'inspect', `${reg.host}/podman/list:latest`);
    const [info] = JSON.parse(stdout) as { Digest: string; Architecture: string; RepoDigests: string[]; Labels: Record<string, string> }[];
    assert.equal(info!.Architecture, 'arm64');
    assert.equal(info!.Labels.arch, 'arm64');
    // podman records both the list's and the platform manifest's digest as RepoDigests
    assert.ok(info!.RepoDigests.includes(`${reg.host}/podman/list@${arm.digest}`), info!.RepoDigests.join(', '));
    assert.ok(info!.RepoDigests.includes(`${reg.host}/podman/list@${listDigest}`), info!.RepoDigests.join(', '));
  });

  it('login, push and logout against a registry with htpasswd auth', async () => {
    const htpasswd = ws.path('htpasswd');
    const { stdout } = await ws.tool('htpasswd', ['-Bbn', 'berth', 's3cret-pass']);
    writeFileSync(htpasswd, stdout);
    const root = ws.path('auth-root');
    authReg = await startRegistry({
      root,
      config: (port) => registryConfig({ root, port, extra: `auth:\n  htpasswd:\n    realm: berth-test\n    path: ${htpasswd}` }),
    });
    const anon = await fetch(`${authReg.url}/v2/`);
    assert.equal(anon.status, 401);
    assert.match(anon.headers.get('www-authenticate') ?? '', /^Basic realm="berth-test"/);

    await assert.rejects(podman('login', '--tls-verify=false', '--authfile', ws.authFile, '-u', 'berth', '-p', 'wrong', authReg.host), /401|unauthorized|invalid username\/password/i);
    await podman('import', ws.path('rootfs.tar'), 'localhost/berth-podman:latest');
    await ws.client('podman', [...ws.storageFlags, 'login', '--tls-verify=false', '--authfile', ws.authFile, '-u', 'berth', '--password-stdin', authReg.host], { input: 's3cret-pass\n' });
    const auth = JSON.parse(readFileSync(ws.authFile, 'utf8')) as { auths: Record<string, { auth: string }> };
    assert.equal(auth.auths[authReg.host]?.auth, Buffer.from('berth:s3cret-pass').toString('base64'));

    await podman('push', ...policy(), '--tls-verify=false', '--authfile', ws.authFile,
      'localhost/berth-podman:latest', `docker://${authReg.host}/podman/private:v1`);
    const basic = `Basic ${Buffer.from('berth:s3cret-pass').toString('base64')}`;
    const m = await fetch(`${authReg.url}/v2/podman/private/manifests/v1`, {
      headers: { Authorization: basic, Accept: 'application/vnd.oci.image.manifest.v1+json, application/vnd.docker.distribution.manifest.v2+json' },
    });
    assert.equal(m.status, 200);
    await podman('pull', ...policy(), '--tls-verify=false', '--authfile', ws.authFile, `${authReg.host}/podman/private:v1`);

    await podman('logout', '--authfile', ws.authFile, authReg.host);
    const after = JSON.parse(readFileSync(ws.authFile, 'utf8')) as { auths: Record<string, unknown> };
    assert.equal(after.auths[authReg.host], undefined);
    await assert.rejects(
      podman('push', ...policy(), '--tls-verify=false', '--authfile', ws.authFile, 'localhost/berth-podman:latest', `docker://${authReg.host}/podman/private:v2`),
      /unauthorized|authentication required|401/i,
    );
  });
});
