// `berth copy`, `push` and `pull` between Distribution 2.8.2, Berth and OCI layouts, checked by
// skopeo and umoci: a two-platform index built with umoci goes layout → Distribution → Berth →
// Distribution → layout with --all, and every copy reads back with the same manifest and blob
// digests. A second copy sends no blob bytes (Berth's own request-size metrics say so). Not on a
// terminal, progress is one line per blob on stderr (nothing with -q). Ctrl-C in the middle of a
// blob commits nothing partial, and a rerun sends only what is missing.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { Registry } from '../../src/client/remote/registry.js';
import { MediaTypes } from '../../src/oci/descriptor.js';
import { Workspace, freePort, layoutClosure, layoutRef, requireTools, sha256 } from '../clients/harness.js';
import { addIndex, buildImage, type BuiltImage } from '../clients/images.js';
import { image, pushAll, startTestRegistry, uniqueRepo, type TestRegistry } from '../client/fixtures.js';
import { parseMetrics, series } from '../notifications/harness.js';
import { CliHome, berth, berthOk, berthStart } from './berth.js';
import { throttle, type Throttle } from './throttle.js';

const home = new CliHome();
const env = home.env();
after(() => home.cleanup());

/** Blob-upload requests a Berth has served and the bytes they carried (headers and bodies). */
async function uploads(debugUrl: string): Promise<{ requests: number; bytes: number }> {
  const m = parseMetrics(await (await fetch(`${debugUrl}/metrics`)).text());
  let requests = 0;
  let bytes = 0;
  for (const handler of ['blob_upload', 'blob_upload_chunk']) {
    requests += series(m, 'registry_http_request_size_bytes_count', { handler }) ?? 0;
    bytes += series(m, 'registry_http_request_size_bytes_sum', { handler }) ?? 0;
  }
  return { requests, bytes };
}

async function berthWithMetrics(): Promise<{ reg: TestRegistry; debugUrl: string }> {
  const port = await freePort();
  const reg = await startTestRegistry('berth', ['  debug:', `    addr: 127.0.0.1:${port}`, '    prometheus:', '      enabled: true', '      path: /metrics'].join('\n'));
  return { reg, debugUrl: `http://127.0.0.1:${port}` };
}

describe('berth copy between Distribution 2.8.2, Berth and OCI layouts', () => {
  let ws: Workspace;
  let dist: TestRegistry;
  let berthReg: TestRegistry;
  let debugUrl = '';
  let src = '';
  let multi = '';
  let amd: BuiltImage;
  const skopeo = (...args: string[]) => ws.client('skopeo', ['--policy', ws.policyFile, ...args]);
  const tls = ['--src-tls-verify=false', '--dest-tls-verify=false'];
  /** Every digest under the index in a layout: the index, both manifests, configs and layers. */
  const closure = (layout: string) => layoutClosure(layout, multi).sort();

  before(async () => {
    requireTools('skopeo', 'umoci');
    ws = new Workspace('cli-copy');
    dist = await startTestRegistry('distribution');
    ({ reg: berthReg, debugUrl } = await berthWithMetrics());
    src = ws.path('src');
    amd = await buildImage(ws, src, 'amd64', { architecture: 'amd64', layers: [{ 'etc/arch': 'amd64\n', 'data/a.bin': randomBytes(300_000) }, { 'data/b.bin': randomBytes(200_000) }] });
    const arm = await buildImage(ws, src, 'arm64', { architecture: 'arm64', layers: [{ 'etc/arch': 'arm64\n', 'data/a.bin': randomBytes(300_000) }] });
    multi = addIndex(src, 'multi', [{ image: amd, architecture: 'amd64' }, { image: arm, architecture: 'arm64' }]).digest;
  });
  after(async () => {
    await berthReg?.stop();
    await dist?.stop();
    ws?.cleanup();
  });

  it('push --all: a layout into Distribution; skopeo reads the same index and blobs back', async () => {
    const r = await berthOk(['push', '--all', `oci:${src}:multi`, `${dist.host}/cli/app:multi`], { env });
    assert.match(r.stdout, new RegExp(`^${dist.host}/cli/app:multi: ${multi} \\(8 copied, 0 skipped, 0 mounted; .*\\)\\n$`));
    assert.equal(sha256((await skopeo('inspect', '--raw', '--tls-verify=false', `docker://${dist.host}/cli/app:multi`)).stdout), multi);
    const out = ws.path('from-dist');
    await skopeo('copy', ...tls, '--all', `docker://${dist.host}/cli/app:multi`, `oci:${out}:multi`);
    assert.deepEqual(closure(out), closure(src));
  });

  it('copy --all Distribution → Berth: skopeo reads the same digests from Berth; a second copy sends no blob bytes', async () => {
    const before = await uploads(debugUrl);
    const first = await berthOk(['copy', '--all', '--format', 'json', `${dist.host}/cli/app:multi`, `${berthReg.host}/cli/app:multi`], { env });
    const result = JSON.parse(first.stdout) as Record<string, unknown>;
    assert.deepEqual({ ...result, bytes: undefined }, {
      source: `${dist.host}/cli/app:multi`, destination: `${berthReg.host}/cli/app:multi`, digest: multi, mediaType: MediaTypes.ociIndex,
      size: layoutRef(src, 'multi').size, tag: 'multi', copied: 8, skipped: 0, mounted: 0, bytes: undefined,
    });
    const out = ws.path('from-berth');
    await skopeo('copy', ...tls, '--all', `docker://${berthReg.host}/cli/app:multi`, `oci:${out}:multi`);
    assert.deepEqual(closure(out), closure(src));
    const afterFirst = await uploads(debugUrl);
    assert.ok(afterFirst.bytes - before.bytes > 800_000, `the first copy uploaded the layers (${afterFirst.bytes - before.bytes} bytes)`);

    const second = await berthOk(['copy', '--all', `${dist.host}/cli/app:multi`, `${berthReg.host}/cli/app:multi`], { env });
    assert.match(second.stdout, /\(0 copied, 1 skipped, 0 mounted; 0 B in /);
    assert.match(second.stderr, new RegExp(`^skipped ${multi.slice(0, 19)} index  .*exists\\n$`));
    assert.deepEqual(await uploads(debugUrl), afterFirst, 'no blob upload request reached Berth');
  });

  it('copy --all Berth → Distribution, and pull --all Berth → layout: the same digests again', async () => {
    await berthOk(['copy', '--all', '-q', `${berthReg.host}/cli/app:multi`, `${dist.host}/cli/back:multi`], { env });
    const out = ws.path('back');
    await skopeo('copy', ...tls, '--all', `docker://${dist.host}/cli/back:multi`, `oci:${out}:multi`);
    assert.deepEqual(closure(out), closure(src));

    const pulled = ws.path('pulled');
    const r = await berthOk(['pull', '--all', '-q', `${berthReg.host}/cli/app:multi`, `oci:${pulled}:multi`], { env });
    assert.equal(r.stdout, `${multi}\n`);
    assert.equal(r.stderr, '', '-q prints no progress');
    assert.deepEqual(closure(pulled), closure(src));
    assert.deepEqual((await ws.tool('umoci', ['ls', '--layout', pulled])).stdout.split('\n').filter(Boolean), ['multi']);
  });

  it('without --all an index is copied for one platform; progress in a pipe is one line per blob', async () => {
    const r = await berthOk(['copy', '--platform', 'linux/amd64', `${berthReg.host}/cli/app:multi`, `${dist.host}/cli/one:amd`], { env });
    assert.match(r.stdout, new RegExp(`^${dist.host}/cli/one:amd: ${amd.digest} \\(`));
    const lines = r.stderr.trimEnd().split('\n');
    // config, two layers, the manifest: each once, with its kind and size.
    assert.equal(lines.length, 4, r.stderr);
    for (const l of lines) assert.match(l, /^copied {2}sha256:[0-9a-f]{12} (config|layer|manifest) {2}\d+(\.\d)? (B|KiB|MiB)$/);
    assert.equal(lines.filter((l) => / layer /.test(l)).length, 2);
    assert.equal(sha256((await skopeo('inspect', '--raw', '--tls-verify=false', `docker://${dist.host}/cli/one:amd`)).stdout), amd.digest);
  });

  it('a registry\'s refusal exits 1 naming the registry, reference and code; bad references exit 2', async () => {
    const missing = await berth(['copy', `${dist.host}/cli/none:v1`, `${berthReg.host}/cli/none:v1`], { env });
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, new RegExp(`^berth: copy ${dist.host}/cli/none:v1 to ${berthReg.host}/cli/none:v1: (manifest_unknown|name_unknown): .*\\(${dist.host}, `));
    for (const args of [['copy', 'no-host-here', `${berthReg.host}/x:v1`], ['copy', `${dist.host}/UPPER/case:v1`, `${berthReg.host}/x:v1`], ['push', `${dist.host}/a:v1`, `${berthReg.host}/x:v1`], ['pull', `oci:${src}:multi`, `oci:${src}:x`]]) {
      const r = await berth(args, { env });
      assert.equal(r.code, 2, `${args.join(' ')}: ${r.stderr}`);
      assert.match(r.stderr, /^berth: /);
    }
  });
});

describe('berth copy interrupted', () => {
  let source: TestRegistry;
  let dest: TestRegistry;
  let proxy: Throttle;
  before(async () => {
    source = await startTestRegistry('berth');
    dest = await startTestRegistry('berth');
    proxy = await throttle(Number(new URL(source.url).port), 4 << 20);
  });
  after(async () => {
    await proxy?.close();
    await source?.stop();
    await dest?.stop();
  });

  it('Ctrl-C commits no partial blob and exits 130; the rerun sends only what is missing', async () => {
    // Small blobs finish at once; the 24 MiB layer takes six seconds through the proxy.
    const img = image({ layerSizes: [2048, 24 << 20] });
    const repo = uniqueRepo('int');
    await pushAll(new Registry(source.host, { credentials: null }).repository(repo), img.all.slice(0, -1));
    await new Registry(source.host, { credentials: null }).repository(repo).pushManifest(img.manifest.data, { mediaType: MediaTypes.ociManifest, tag: 'v1' });
    const from = `${proxy.host}/${repo}:v1`;
    const to = `${dest.host}/${repo}:v1`;
    const [small, big] = img.layers;

    const run = berthStart(['copy', '--jobs', '4', from, to], { env });
    // Once the small blobs are in, the big one is under way: interrupt it.
    while (!run.stderr().includes(`copied  ${small!.desc.digest.value.slice(0, 19)} layer`) || !run.stderr().includes(' config ')) {
      assert.equal(run.child.exitCode, null, `the copy ended before it was interrupted: ${run.stderr()}`);
      await new Promise((r) => setTimeout(r, 20));
    }
    run.child.kill('SIGINT');
    const r = await run.done;
    assert.equal(r.code, 130, r.stderr);
    assert.match(r.stderr, /berth: interrupted; nothing partial was committed\. Run the same command again to finish: only what is missing is sent\.\n$/);
    const target = new Registry(dest.host, { credentials: null }).repository(repo);
    assert.equal(await target.exists(big!.desc), false, 'the interrupted layer is not in the destination');
    assert.equal(await target.exists(img.manifest.desc), false, 'nor the manifest');
    assert.equal(await target.exists(small!.desc), true);

    const again = await berthOk(['copy', from, to], { env });
    assert.match(again.stdout, /\(2 copied, 2 skipped, 0 mounted; 24\.0 MiB in /);
    assert.match(again.stderr, new RegExp(`skipped ${small!.desc.digest.value.slice(0, 19)} layer`));
    assert.match(again.stderr, new RegExp(`copied {2}${big!.desc.digest.value.slice(0, 19)} layer {2}24\\.0 MiB`));
    assert.equal((await target.resolve('v1')).digest.value, img.manifest.desc.digest.value);
  });
});
