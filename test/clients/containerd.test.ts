// containerd's ctr (Debian's containerd 1.6, its own daemon on private paths) against the
// registry under test, with credentials given by --user: an umoci-built multi-layer OCI image
// imported into containerd, `ctr images push --plain-http` to a registry with htpasswd auth and to
// one with Berth's token issuer, then `ctr images pull --plain-http` back into an emptied store
// (unpacked with the native snapshotter, which needs nothing of the kernel).
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { after, before, describe, it, type TestContext } from 'node:test';
import { type ContainerdEngine, kernelRefusal, startContainerd } from './engines.js';
import {
  type RunningRegistry, Workspace, layoutBlob, layoutBlobDigests, registryConfig, requireTools, sha256, startRegistry, tarFiles, targetKind,
} from './harness.js';
import { type BuiltImage, buildImage, multiLayerSpec } from './images.js';

const USER = 'berth';
const PASSWORD = 's3cret-pass';
const LOCAL = 'localhost/berth/ctr:v1';

/**
 * GET through the registry's challenge: Basic credentials for htpasswd, or a token from the realm
 * the Bearer challenge names (as a client would fetch it) for token auth.
 */
async function authedGet(reg: RunningRegistry, path: string, accept?: string): Promise<Response> {
  const url = `${reg.url}${path}`;
  const headers: Record<string, string> = accept ? { Accept: accept } : {};
  const basic = `Basic ${Buffer.from(`${USER}:${PASSWORD}`).toString('base64')}`;
  const first = await fetch(url, { headers });
  if (first.status !== 401) return first;
  const challenge = first.headers.get('www-authenticate') ?? '';
  if (challenge.startsWith('Basic')) return fetch(url, { headers: { ...headers, Authorization: basic } });
  const param = (name: string) => new RegExp(`${name}="([^"]*)"`).exec(challenge)?.[1] ?? '';
  const realm = new URL(param('realm'));
  realm.searchParams.set('service', param('service'));
  realm.searchParams.set('scope', param('scope'));
  const { token } = (await (await fetch(realm, { headers: { Authorization: basic } })).json()) as { token: string };
  return fetch(url, { headers: { ...headers, Authorization: `Bearer ${token}` } });
}

describe('containerd (ctr)', () => {
  let ws: Workspace;
  let engine: ContainerdEngine;
  let skip: string | undefined;
  let image: BuiltImage;
  let layout: string;
  const registries: RunningRegistry[] = [];

  const ctr = (...args: string[]) => engine.ctr(args);
  const ready = (t: TestContext) => {
    if (skip) t.skip(skip);
    return !skip;
  };

  before(async () => {
    requireTools('containerd', 'ctr', 'umoci', 'tar', 'htpasswd');
    ws = new Workspace('ctr');
    try {
      engine = await startContainerd(ws);
    } catch (err) {
      skip = kernelRefusal(err);
      return;
    }
    layout = ws.path('layout');
    image = await buildImage(ws, layout, 'v1', multiLayerSpec('amd64'));
    await ws.tool('tar', ['-C', layout, '-cf', ws.path('image.tar'), '.']);
  });

  after(async () => {
    for (const r of registries) await r.stop();
    await engine?.stop();
    ws?.cleanup();
  });

  async function authRegistry(mode: 'htpasswd' | 'token'): Promise<RunningRegistry> {
    const htpasswd = ws.path(`${mode}.htpasswd`);
    writeFileSync(htpasswd, (await ws.tool('htpasswd', ['-Bbn', USER, PASSWORD])).stdout);
    const root = ws.path(`${mode}-root`);
    // ctr sends its wrong password on several requests at once, which would use up the default
    // ten failed logins per minute and refuse the right one (429) from the same address after it.
    const limit = ['    ratelimit:', '      failures: 100'];
    const auth = mode === 'htpasswd'
      ? ['auth:', '  htpasswd:', '    realm: berth-ctr', `    path: ${htpasswd}`, 'berth:', '  auth:', ...limit]
      : ['auth:', '  token:', '    autoredirect: true', '    service: berth-ctr', '    issuer: berth', 'berth:', '  auth:', ...limit, '    tokenissuer:', `      htpasswd: ${htpasswd}`];
    const reg = await startRegistry({ root, config: (port) => registryConfig({ root, port, extra: auth.join('\n') }) });
    registries.push(reg);
    return reg;
  }

  for (const mode of ['htpasswd', 'token'] as const) {
    it(`push --plain-http --user and pull back, against ${mode === 'token' ? "Berth's token issuer" : 'htpasswd'}`, async (t) => {
      if (!ready(t)) return;
      if (mode === 'token' && targetKind() !== 'berth') return t.skip('the built-in token issuer is a Berth feature');
      const reg = await authRegistry(mode);
      const remote = `${reg.host}/ctr/img:v1`;
      await ctr('images', 'import', '--no-unpack', '--base-name', 'localhost/berth/ctr', ws.path('image.tar'));
      assert.match((await ctr('images', 'ls', '-q')).stdout, /localhost\/berth\/ctr:v1/);

      await assert.rejects(ctr('images', 'push', '--plain-http', remote, LOCAL), /401|unauthorized|authorization failed|denied/i);
      await assert.rejects(ctr('images', 'push', '--plain-http', '--user', `${USER}:wrong`, remote, LOCAL), /401|unauthorized|authorization failed|denied/i);
      await ctr('images', 'push', '--plain-http', '--user', `${USER}:${PASSWORD}`, remote, LOCAL);

      // What arrived is the image as built, byte for byte.
      const got = await authedGet(reg, '/v2/ctr/img/manifests/v1', image.manifest.mediaType);
      assert.equal(got.status, 200);
      const body = Buffer.from(await got.arrayBuffer());
      assert.equal(sha256(body), image.digest);
      assert.equal(got.headers.get('docker-content-digest'), image.digest);
      for (const d of layoutBlobDigests(layout, image.digest)) {
        const blob = await authedGet(reg, `/v2/ctr/img/blobs/${d}`);
        assert.equal(blob.status, 200, d);
        assert.ok(Buffer.from(await blob.arrayBuffer()).equals(layoutBlob(layout, d)), d);
      }

      // An empty store pulls it back, unpacked.
      await ctr('images', 'rm', '--sync', LOCAL);
      assert.equal((await ctr('content', 'ls', '-q')).stdout.trim(), '', 'no content left before the pull');
      await assert.rejects(ctr('images', 'pull', '--plain-http', '--snapshotter', 'native', remote), /401|unauthorized|authorization failed|denied/i);
      const pulled = await ctr('images', 'pull', '--plain-http', '--snapshotter', 'native', '--user', `${USER}:${PASSWORD}`, remote);
      assert.match(pulled.stdout, new RegExp(`unpacking linux/amd64 ${image.digest}`));
      const listed = (await ctr('images', 'ls')).stdout.split('\n').find((l) => l.startsWith(`${remote} `));
      assert.ok(listed?.includes(image.digest), `ctr images ls: ${listed}`);
      const layers = layoutBlobDigests(layout, image.digest).slice(1);
      const files = new Map<string, Buffer>();
      for (const d of layers) {
        const data = await engine.content(d);
        assert.equal(sha256(data), d);
        for (const [p, c] of tarFiles(data)) files.set(p, c);
      }
      assert.equal(files.get('etc/hello.txt')?.toString(), 'hello again from amd64\n');
      await ctr('images', 'rm', '--sync', remote);
    });
  }
});
