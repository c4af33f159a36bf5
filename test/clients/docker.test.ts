// The Docker engine and CLI (Debian's docker.io: dockerd 20.10 with its own containerd) against
// the registry under test: images built `FROM scratch` by the classic builder with several
// ADD/COPY layers, pushed and pulled back (by tag and by digest) with their files checked;
// `docker manifest create/push` of a two-platform list and a pull of one platform from it;
// `docker login` against htpasswd and against Berth's token issuer; a push to a mirrored name,
// which Berth refuses with a message naming the upstream. One daemon serves the whole file.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { after, before, describe, it, type TestContext } from 'node:test';
import { type DockerEngine, kernelRefusal, startDocker } from './engines.js';
import {
  type RunningRegistry, Workspace, getManifest, registryConfig, requireTools, sha256, startRegistry, tarFiles, targetKind,
} from './harness.js';

interface Manifest {
  mediaType: string;
  manifests?: { digest: string; mediaType: string; platform?: { architecture: string; os: string } }[];
  config: { digest: string };
  layers: { digest: string; size: number; mediaType: string }[];
}

const DOCKER_MANIFEST = 'application/vnd.docker.distribution.manifest.v2+json';
const DOCKER_LIST = 'application/vnd.docker.distribution.manifest.list.v2+json';
/** The image every test pushes: built once, for amd64, in before(). */
const BASE = 'localhost/berth-docker:amd64';

describe('docker', () => {
  let ws: Workspace;
  let engine: DockerEngine;
  let skip: string | undefined;
  let reg: RunningRegistry;
  const extra: RunningRegistry[] = [];
  const files = {
    one: randomBytes(700 * 1024),
    two: randomBytes(1200 * 1024),
    hello: `hello from docker ${Date.now()}\n`,
  };
  let pushedDigest = '';

  const docker = (...args: string[]) => engine.docker(args);
  /** `docker push` and the digest it reports. */
  const push = async (ref: string) => {
    const { stdout } = await docker('push', ref);
    const m = /digest: (sha256:[0-9a-f]{64}) size: \d+/.exec(stdout);
    assert.ok(m, `docker push ${ref} reported no digest:\n${stdout}`);
    return m[1]!;
  };
  /**
   * Builds the test image for one platform with the classic builder and tags it `tag`. No cache:
   * the classic builder would reuse the other platform's layers, and their architecture with them.
   */
  const build = (tag: string, arch: string) =>
    engine.docker(['build', '--no-cache', '--platform', `linux/${arch}`, '--label', `arch=${arch}`, '-t', tag, ws.path('context')], { extraEnv: { DOCKER_BUILDKIT: '0' } });
  /** Puts the amd64 image built in before() back into the store (a load is much cheaper than a build). */
  const loadBase = () => docker('load', '-i', ws.path('base-amd64.tar'));
  /** Empties the daemon's image store (no containers are left behind, so every image goes). */
  const removeAllImages = async () => {
    await docker('image', 'prune', '--all', '--force');
    assert.equal((await docker('images', '-aq')).stdout.trim(), '', 'no image left');
  };
  /** The files of an image, as `docker export` of a container created from it (never started) writes them. */
  const imageFiles = async (ref: string) => {
    const name = `c${Date.now()}`;
    await docker('create', '--name', name, ref);
    const out = ws.path(`${name}.tar`);
    await docker('export', '-o', out, name);
    await docker('rm', name);
    return tarFiles(readFileSync(out));
  };
  const ready = (t: TestContext) => {
    if (skip) t.skip(skip);
    return !skip;
  };

  before(async () => {
    requireTools('dockerd', 'docker', 'htpasswd');
    ws = new Workspace('docker');
    try {
      engine = await startDocker(ws);
    } catch (err) {
      skip = kernelRefusal(err);
      return;
    }
    const ctx = ws.path('context');
    mkdirSync(ctx, { recursive: true });
    writeFileSync(ws.path('context', 'one.bin'), files.one);
    writeFileSync(ws.path('context', 'two.bin'), files.two);
    writeFileSync(ws.path('context', 'hello.txt'), files.hello);
    writeFileSync(ws.path('context', 'Dockerfile'), [
      'FROM scratch',
      'ADD one.bin /data/one.bin',
      'COPY two.bin /data/two.bin',
      'COPY hello.txt /etc/hello.txt',
      'CMD ["/hello"]',
      '',
    ].join('\n'));
    await build(BASE, 'amd64');
    await docker('save', '-o', ws.path('base-amd64.tar'), BASE);
    reg = await startRegistry({ root: ws.path('registry-root') });
  });

  after(async () => {
    for (const r of extra) await r.stop();
    await reg?.stop();
    await engine?.stop();
    ws?.cleanup();
  });

  it('pushes a multi-layer image built FROM scratch, with the digest it reports', async (t) => {
    if (!ready(t)) return;
    await docker('tag', BASE, `${reg.host}/docker/img:v1`);
    pushedDigest = await push(`${reg.host}/docker/img:v1`);
    const m = await getManifest(reg.url, 'docker/img', 'v1');
    assert.equal(m.status, 200);
    assert.equal(m.digest, pushedDigest, 'Docker-Content-Digest');
    assert.equal(sha256(m.body), pushedDigest);
    assert.equal(m.contentType, DOCKER_MANIFEST);
    const manifest = JSON.parse(m.body.toString()) as Manifest;
    assert.equal(manifest.layers.length, 3, 'one layer per ADD/COPY');
    const found = new Map<string, Buffer>();
    for (const layer of manifest.layers) {
      const res = await fetch(`${reg.url}/v2/docker/img/blobs/${layer.digest}`);
      assert.equal(res.status, 200);
      const body = Buffer.from(await res.arrayBuffer());
      assert.equal(sha256(body), layer.digest);
      assert.equal(body.length, layer.size);
      for (const [path, content] of tarFiles(body)) found.set(path, content);
    }
    assert.ok(found.get('data/one.bin')?.equals(files.one));
    assert.ok(found.get('data/two.bin')?.equals(files.two));
    assert.equal(found.get('etc/hello.txt')?.toString(), files.hello);
  });

  it('pulls it back after removing every local image, files intact', async (t) => {
    if (!ready(t)) return;
    await removeAllImages();
    const { stdout } = await docker('pull', `${reg.host}/docker/img:v1`);
    assert.match(stdout, new RegExp(`Digest: ${pushedDigest}`));
    const [info] = JSON.parse((await docker('image', 'inspect', `${reg.host}/docker/img:v1`)).stdout) as { RepoDigests: string[]; Config: { Cmd: string[] } }[];
    assert.ok(info!.RepoDigests.includes(`${reg.host}/docker/img@${pushedDigest}`), info!.RepoDigests.join(', '));
    assert.deepEqual(info!.Config.Cmd, ['/hello']);
    const got = await imageFiles(`${reg.host}/docker/img:v1`);
    assert.ok(got.get('data/one.bin')?.equals(files.one));
    assert.ok(got.get('data/two.bin')?.equals(files.two));
    assert.equal(got.get('etc/hello.txt')?.toString(), files.hello);
  });

  it('pulls by digest', async (t) => {
    if (!ready(t)) return;
    await removeAllImages();
    const ref = `${reg.host}/docker/img@${pushedDigest}`;
    const { stdout } = await docker('pull', ref);
    assert.match(stdout, new RegExp(`Digest: ${pushedDigest}`));
    const [info] = JSON.parse((await docker('image', 'inspect', ref)).stdout) as { RepoDigests: string[]; RepoTags: string[] }[];
    assert.deepEqual(info!.RepoDigests, [ref]);
    assert.deepEqual(info!.RepoTags, [], 'a pull by digest creates no tag');
    assert.equal((await imageFiles(ref)).get('etc/hello.txt')?.toString(), files.hello);
  });

  it('docker manifest create/push of a two-platform list; a pull of one platform from it', async (t) => {
    if (!ready(t)) return;
    const digests: Record<string, string> = {};
    await loadBase();
    await build('localhost/berth-docker:arm64', 'arm64');
    for (const arch of ['amd64', 'arm64']) {
      await docker('tag', `localhost/berth-docker:${arch}`, `${reg.host}/docker/multi:${arch}`);
      digests[arch] = await push(`${reg.host}/docker/multi:${arch}`);
    }
    const list = `${reg.host}/docker/multi:list`;
    await docker('manifest', 'create', '--insecure', list, `${reg.host}/docker/multi:amd64`, `${reg.host}/docker/multi:arm64`);
    const pushed = (await docker('manifest', 'push', '--insecure', list)).stdout.trim();
    assert.match(pushed, /^sha256:[0-9a-f]{64}$/);
    const m = await getManifest(reg.url, 'docker/multi', 'list');
    assert.equal(m.status, 200);
    assert.equal(m.contentType, DOCKER_LIST);
    assert.equal(sha256(m.body), pushed);
    const doc = JSON.parse(m.body.toString()) as Manifest;
    assert.deepEqual(doc.manifests!.map((d) => [d.platform?.architecture, d.digest]).sort(), [['amd64', digests.amd64], ['arm64', digests.arm64]]);
    // the CLI's own view of what it pushed
    const inspected = JSON.parse((await docker('manifest', 'inspect', '--insecure', list)).stdout) as Manifest;
    assert.equal(inspected.manifests!.length, 2);

    await removeAllImages();
    await docker('pull', '--platform', 'linux/arm64', list);
    const [info] = JSON.parse((await docker('image', 'inspect', list)).stdout) as { Architecture: string; Config: { Labels: Record<string, string> } }[];
    assert.equal(info!.Architecture, 'arm64');
    assert.equal(info!.Config.Labels.arch, 'arm64');
  });

  it('login with htpasswd: a wrong password is refused, push and pull work, logout ends access', async (t) => {
    if (!ready(t)) return;
    const htpasswd = ws.path('htpasswd');
    writeFileSync(htpasswd, (await ws.tool('htpasswd', ['-Bbn', 'berth', 's3cret-pass'])).stdout);
    const root = ws.path('htpasswd-root');
    const authReg = await startRegistry({
      root,
      config: (port) => registryConfig({ root, port, extra: `auth:\n  htpasswd:\n    realm: berth-test\n    path: ${htpasswd}` }),
    });
    extra.push(authReg);
    await loginFlow(authReg, 'private/img');
  });

  it("login with Berth's token issuer: push and pull with bearer tokens", async (t) => {
    if (!ready(t)) return;
    if (targetKind() !== 'berth') return t.skip('the built-in token issuer is a Berth feature');
    const htpasswd = ws.path('issuer-htpasswd');
    writeFileSync(htpasswd, (await ws.tool('htpasswd', ['-Bbn', 'berth', 's3cret-pass'])).stdout);
    const root = ws.path('token-root');
    const tokenReg = await startRegistry({
      root,
      config: (port) => registryConfig({
        root, port,
        extra: ['auth:', '  token:', '    autoredirect: true', '    service: berth-docker', '    issuer: berth',
          'berth:', '  auth:', '    tokenissuer:', `      htpasswd: ${htpasswd}`].join('\n'),
      }),
    });
    extra.push(tokenReg);
    const challenge = (await fetch(`${tokenReg.url}/v2/`)).headers.get('www-authenticate') ?? '';
    assert.match(challenge, /^Bearer realm="http:\/\/127\.0\.0\.1:\d+\/auth\/token",service="berth-docker"/);
    await loginFlow(tokenReg, 'team/img');
  });

  /** Refused without login and with a wrong password; logged in: push, pull; logged out: refused again. */
  async function loginFlow(target: RunningRegistry, repo: string): Promise<void> {
    const ref = `${target.host}/${repo}:v1`;
    await loadBase();
    await docker('tag', BASE, ref);
    // htpasswd answers 401; the issuer gives an anonymous caller a token without push, which Docker reports as denied
    await assert.rejects(docker('push', ref), /unauthorized|authentication required|no basic auth credentials|denied: requested access/i);
    await assert.rejects(docker('login', '-u', 'berth', '-p', 'wrong', target.host), /unauthorized|incorrect username or password|401/i);
    await engine.docker(['login', '-u', 'berth', '--password-stdin', target.host], { input: 's3cret-pass\n' });
    const config = JSON.parse(readFileSync(engine.configFile, 'utf8')) as { auths: Record<string, { auth?: string }> };
    assert.equal(config.auths[target.host]?.auth, Buffer.from('berth:s3cret-pass').toString('base64'));
    const digest = await push(ref);
    await removeAllImages();
    const { stdout } = await docker('pull', ref);
    assert.match(stdout, new RegExp(`Digest: ${digest}`));
    assert.equal((await imageFiles(ref)).get('etc/hello.txt')?.toString(), files.hello);
    await docker('logout', target.host);
    await removeAllImages();
    await assert.rejects(docker('pull', ref), /unauthorized|authentication required|no basic auth credentials|denied/i);
  }

  it('a push to a mirrored name is refused with a message naming the upstream; a pull through the mirror works', async (t) => {
    if (!ready(t)) return;
    if (targetKind() !== 'berth') return t.skip('berth.proxy (mirrors beside pushable names) is a Berth feature');
    const root = ws.path('mirror-root');
    const mirror = await startRegistry({
      root,
      config: (port) => registryConfig({
        root, port,
        extra: ['berth:', '  proxy:', '    upstreams:', '      - prefix: upstream', `        remoteurl: ${reg.url}`].join('\n'),
      }),
    });
    extra.push(mirror);
    await loadBase();
    await docker('tag', BASE, `${mirror.host}/upstream/docker/pushed:v1`);
    await assert.rejects(docker('push', `${mirror.host}/upstream/docker/pushed:v1`), (err: Error) => {
      assert.match(err.message, /pull-through cache of http:\/\/127\.0\.0\.1:\d+\/docker\/pushed/);
      return true;
    });
    // a name under no prefix is a normal repository of the same registry
    await docker('tag', BASE, `${mirror.host}/local/pushed:v1`);
    await push(`${mirror.host}/local/pushed:v1`);
    await removeAllImages();
    const { stdout } = await docker('pull', `${mirror.host}/upstream/docker/img:v1`);
    assert.match(stdout, new RegExp(`Digest: ${pushedDigest}`));
  });
});
