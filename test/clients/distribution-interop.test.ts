// Drop-in proof against CNCF Distribution 2.8.2 (Debian's docker-registry): a root written by the
// server under test is served by Distribution and the reverse, with the same catalog, tags and
// digests; Distribution's garbage collector finds nothing referenced to delete in that root; and
// one configuration file starts both servers.
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import {
  type RegistryKind, type RunningRegistry, Workspace, catalog, freePort, getManifest, layoutBlobDigests, layoutClosure,
  layoutRef, registryConfig, requireTools, run, sha256, startRegistry, tagList, targetKind,
} from './harness.js';
import { type BuiltImage, addIndex, buildImage, multiLayerSpec } from './images.js';

interface Snapshot {
  catalog: string[];
  tags: Record<string, string[]>;
  digests: Record<string, string>; // "repo:tag" → manifest digest
}

describe('distribution interop', () => {
  let ws: Workspace;
  let src: string;
  let app: BuiltImage;
  let multiDigest: string;
  const running: RunningRegistry[] = [];
  const target = targetKind();

  const tls = ['--src-tls-verify=false', '--dest-tls-verify=false'];
  const skopeo = (...args: string[]) => ws.client('skopeo', ['--policy', ws.policyFile, ...args]);

  async function start(kind: RegistryKind, root: string, config?: (port: number) => string, port?: number) {
    const reg = await startRegistry({ kind, root, stateDir: ws.dir, config, port });
    running.push(reg);
    return reg;
  }

  async function stop(reg: RunningRegistry) {
    await reg.stop();
    running.splice(running.indexOf(reg), 1);
  }

  /** Pushes the test images: OCI manifest, Docker schema 2 conversion, multi-platform index. */
  async function pushAll(reg: RunningRegistry) {
    const d = (ref: string) => `docker://${reg.host}/${ref}`;
    await skopeo('copy', ...tls, `oci:${src}:v1`, d('interop/app:v1'));
    await skopeo('copy', ...tls, `oci:${src}:v1`, d('interop/app:latest'));
    await skopeo('copy', ...tls, `oci:${src}:v2`, d('interop/app:v2'));
    await skopeo('copy', ...tls, '--format', 'v2s2', `oci:${src}:v1`, d('interop/docker:v1'));
    await skopeo('copy', ...tls, '--all', `oci:${src}:multi`, d('interop/nested/multi:latest'));
  }

  async function snapshot(reg: RunningRegistry): Promise<Snapshot> {
    const snap: Snapshot = { catalog: await catalog(reg.url), tags: {}, digests: {} };
    for (const repo of snap.catalog) {
      snap.tags[repo] = await tagList(reg.url, repo);
      for (const tag of snap.tags[repo]!) {
        const m = await getManifest(reg.url, repo, tag);
        assert.equal(m.status, 200, `${reg.kind}: GET ${repo}:${tag}`);
        assert.equal(m.digest, sha256(m.body), `${reg.kind}: Docker-Content-Digest of ${repo}:${tag}`);
        snap.digests[`${repo}:${tag}`] = sha256(m.body);
      }
    }
    return snap;
  }

  /** Copies every image back out of `reg` and compares all digests with the source layout. */
  async function pullAndCompare(reg: RunningRegistry, label: string) {
    const back = ws.path(`back-${label}`);
    const d = (ref: string) => `docker://${reg.host}/${ref}`;
    await skopeo('copy', ...tls, d('interop/app:v1'), `oci:${back}:app`);
    await skopeo('copy', ...tls, '--all', d('interop/nested/multi:latest'), `oci:${back}:multi`);
    assert.equal(layoutRef(back, 'app').digest, app.digest, `${label}: app manifest digest`);
    assert.deepEqual(layoutClosure(back, app.digest), layoutClosure(src, app.digest), `${label}: app blobs`);
    assert.equal(layoutRef(back, 'multi').digest, multiDigest, `${label}: index digest`);
    assert.deepEqual(layoutClosure(back, multiDigest), layoutClosure(src, multiDigest), `${label}: index closure`);
    const docker = await getManifest(reg.url, 'interop/docker', 'v1');
    assert.equal(docker.contentType, 'application/vnd.docker.distribution.manifest.v2+json', `${label}: schema 2 media type`);
    const manifest = JSON.parse(docker.body.toString()) as { layers: { digest: string }[] };
    assert.deepEqual(manifest.layers.map((l) => l.digest), layoutBlobDigests(src, app.digest).slice(1), `${label}: schema 2 layers`);
  }

  const expected: Snapshot = {
    catalog: ['interop/app', 'interop/docker', 'interop/nested/multi'],
    tags: { 'interop/app': ['latest', 'v1', 'v2'], 'interop/docker': ['v1'], 'interop/nested/multi': ['latest'] },
    digests: {},
  };

  before(async () => {
    requireTools('skopeo', 'umoci', 'docker-registry');
    ws = new Workspace('interop');
    src = ws.path('src-layout');
    app = await buildImage(ws, src, 'v1', multiLayerSpec('amd64'));
    await buildImage(ws, src, 'v2', { layers: [{ 'etc/hello.txt': 'v2\n' }] });
    const amd = await buildImage(ws, src, 'amd64', { architecture: 'amd64', layers: [{ 'etc/arch': 'amd64\n' }] });
    const arm = await buildImage(ws, src, 'arm64', { architecture: 'arm64', layers: [{ 'etc/arch': 'arm64\n' }] });
    multiDigest = addIndex(src, 'multi', [{ image: amd, architecture: 'amd64' }, { image: arm, architecture: 'arm64' }]).digest;
  });

  after(async () => {
    for (const reg of [...running]) await reg.stop();
    ws?.cleanup();
  });

  it(`a root written by ${target} is served by Distribution with the same catalog, tags and digests`, async () => {
    const root = ws.path('root-from-target');
    const port = await freePort();
    const config = (p: number) => registryConfig({ root, port: p });
    const writer = await start(target, root, config, port);
    await pushAll(writer);
    const before = await snapshot(writer);
    assert.deepEqual(before.catalog, expected.catalog);
    assert.deepEqual(before.tags, expected.tags);
    assert.equal(before.digests['interop/app:v1'], app.digest);
    assert.equal(before.digests['interop/nested/multi:latest'], multiDigest);
    await stop(writer);

    const reader = await start('distribution', root, config, port);
    assert.deepEqual(await snapshot(reader), before);
    await pullAndCompare(reader, 'distribution-reads-target');
    await stop(reader);
  });

  it(`Distribution's garbage-collect --dry-run marks nothing referenced for deletion in a root written by ${target}`, async () => {
    const root = ws.path('root-from-target');
    const configPath = ws.path('gc-config.yml');
    writeFileSync(configPath, registryConfig({ root, port: await freePort() }));
    const { stdout, stderr } = await run('docker-registry', ['garbage-collect', '--dry-run', configPath], { timeoutMs: 60_000 });
    const out = `${stdout}\n${stderr}`;
    const eligible = new Set([...out.matchAll(/eligible for deletion: (sha256:[0-9a-f]{64})/g)].map((m) => m[1]!));
    const marked = new Set([...out.matchAll(/marking (?:blob|manifest) (sha256:[0-9a-f]{64})/g)].map((m) => m[1]!));
    const referenced = new Set([...layoutClosure(src, app.digest), ...layoutClosure(src, multiDigest)]);
    for (const d of referenced) {
      assert.ok(!eligible.has(d), `${d} is referenced by a tag but GC would delete it`);
      assert.ok(marked.has(d), `${d} was not marked in use by GC`);
    }
    const summary = /(\d+) blobs marked, (\d+) blobs and (\d+) manifests eligible for deletion/.exec(out);
    assert.ok(summary, `no GC summary in output:\n${out.slice(-2000)}`);
    assert.equal(summary[2], '0', `blobs eligible for deletion:\n${[...eligible].join('\n')}`);
    assert.equal(summary[3], '0', 'manifests eligible for deletion');
  });

  it(`a root written by Distribution is served by ${target} with the same catalog, tags and digests`, async () => {
    const root = ws.path('root-from-distribution');
    const port = await freePort();
    const config = (p: number) => registryConfig({ root, port: p });
    const writer = await start('distribution', root, config, port);
    await pushAll(writer);
    const before = await snapshot(writer);
    assert.deepEqual(before.catalog, expected.catalog);
    assert.deepEqual(before.tags, expected.tags);
    await stop(writer);

    const reader = await start(target, root, config, port);
    assert.deepEqual(await snapshot(reader), before);
    await pullAndCompare(reader, 'target-reads-distribution');
    // and it can keep writing into that root
    await skopeo('copy', ...tls, `oci:${src}:v2`, `docker://${reader.host}/interop/app:v3`);
    assert.deepEqual(await tagList(reader.url, 'interop/app'), ['latest', 'v1', 'v2', 'v3']);
    await stop(reader);
  });

  it(`one configuration file starts both Distribution and ${target}`, async () => {
    const root = ws.path('root-shared-config');
    const port = await freePort();
    const config = (p: number) => [
      'version: 0.1',
      'log:',
      '  level: info',
      '  formatter: text',
      '  fields:',
      '    service: registry',
      '    environment: client-tests',
      'storage:',
      '  filesystem:',
      `    rootdirectory: ${root}`,
      '    maxthreads: 50',
      '  cache:',
      '    blobdescriptor: inmemory',
      '  delete:',
      '    enabled: true',
      '  redirect:',
      '    disable: true',
      '  maintenance:',
      '    uploadpurging:',
      '      enabled: true',
      '      age: 168h',
      '      interval: 24h',
      '      dryrun: false',
      '    readonly:',
      '      enabled: false',
      'http:',
      `  addr: 127.0.0.1:${p}`,
      '  secret: one-config-for-both',
      '  relativeurls: false',
      '  draintimeout: 5s',
      '  headers:',
      '    X-Content-Type-Options: [nosniff]',
      'health:',
      '  storagedriver:',
      '    enabled: true',
      '    interval: 10s',
      '    threshold: 3',
      '',
    ].join('\n');
    const digests: string[] = [];
    for (const kind of ['distribution', target] as const) {
      const reg = await start(kind, root, config, port);
      const res = await fetch(`${reg.url}/v2/`);
      assert.equal(res.status, 200, `${kind}: GET /v2/`);
      assert.equal(res.headers.get('docker-distribution-api-version'), 'registry/2.0', `${kind}: API version header`);
      assert.equal(res.headers.get('x-content-type-options'), 'nosniff', `${kind}: configured header`);
      await skopeo('copy', ...tls, `oci:${src}:v1`, `docker://${reg.host}/shared/app:${kind}`);
      const m = await getManifest(reg.url, 'shared/app', kind);
      digests.push(sha256(m.body));
      await stop(reg);
    }
    assert.deepEqual(digests, [app.digest, app.digest]);
  });
});
