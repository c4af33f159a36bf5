// The pull-through cache against a real upstream, Distribution 2.8.2 (Debian's docker-registry) on
// loopback behind a front that records every request, so what the mirror relies on (HEAD answers
// and their digests, media types, tag lists, 404s for unknown names and content) is the reference
// implementation's: first and cached pulls, the upstream going away, moved tags, pushes refused,
// one upstream fetch for concurrent pulls of a large blob, upstream 5xx and hangs.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { randomUUID } from 'node:crypto';
import { existsSync } from 'node:fs';
import http from 'node:http';
import { packUploadState } from '../../src/storage/upload-token.js';
import { metricsRegistry } from '../../src/metrics/registry.js';
import { type Registry, startDistribution } from '../helpers/registry.js';
import { type Berth, Front, type Image, getBlob, getManifest, pullImage, pushImage, sha256, startBerth, tempDir } from './helpers.js';

/** The mirror's http.secret, so that the test can sign an upload Location as the mirror would. */
const MIRROR_SECRET = 'mirror-test-secret';

function blobDataPath(root: string, digest: string): string {
  return `${root}/docker/registry/v2/blobs/sha256/${digest.slice(7, 9)}/${digest.slice(7)}/data`;
}

function layerLinkPath(root: string, repo: string, digest: string): string {
  return `${root}/docker/registry/v2/repositories/${repo}/_layers/sha256/${digest.slice(7)}/link`;
}

/**
 * A series of a family in the process's metrics registry (`sample` picks a histogram's `_count`
 * or `_sum`). The family must exist; a labelled series not yet created reads 0, as Prometheus
 * treats a counter before its first increment.
 */
async function metric(name: string, labels: Record<string, string>, sample = name): Promise<number> {
  const m = metricsRegistry().getSingleMetric(name);
  assert.ok(m, `metric family ${name} is registered`);
  const got = await m.get();
  const v = got.values.find((x) => ((x as { metricName?: string }).metricName ?? name) === sample && Object.entries(labels).every(([k, val]) => String(x.labels[k]) === val));
  return v?.value ?? 0;
}

/**
 * GETs `url` on a kept-alive connection of its own and resolves once the server closes it (a
 * successful response leaves it open: then this fails after 10 s).
 */
function getUntilClosed(url: string): Promise<void> {
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  return new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`the connection for ${url} stayed open`)), 10_000);
    const req = http.get(url, { agent }, (res) => {
      res.on('error', () => undefined);
      res.resume();
      res.socket.once('close', () => { clearTimeout(timer); resolve(); });
    });
    req.on('error', () => undefined);
  }).finally(() => agent.destroy());
}

describe('mirror of one upstream (Distribution-style proxy)', () => {
  const tmp = tempDir('single');
  let upstream: Registry;
  let front: Front;
  let mirror: Berth;
  /** A second mirror of the same upstream with 1 s timeouts, for the tests of a hanging or stalling upstream (the first keeps the defaults, so a loaded machine does not break its transfers). */
  let strict: Berth;
  let app: Image;

  before(async () => {
    upstream = await startDistribution();
    front = await new Front(upstream.url).start();
    mirror = await startBerth(`${tmp.dir}/mirror`, `  secret: ${MIRROR_SECRET}\nproxy:\n  remoteurl: ${front.url}\n`);
    strict = await startBerth(`${tmp.dir}/strict`, `proxy:\n  remoteurl: ${front.url}\nberth:\n  proxy:\n    timeout: 1s\n    idletimeout: 1s\n`);
    app = await pushImage(upstream.url, 'library/app', 'v1', { layers: 2 });
  });

  after(async () => {
    await mirror?.close();
    await strict?.close();
    await front?.stop();
    await upstream?.stop();
    tmp.cleanup();
  });

  it('fetches a manifest and its blobs on the first pull and serves them from storage afterwards', async () => {
    const missesBefore = await metric('registry_proxy_misses_total', { type: 'blob', upstream: 'default' });
    const headTimes = () => metric('berth_proxy_upstream_request_duration_seconds', { upstream: 'default', method: 'HEAD' }, 'berth_proxy_upstream_request_duration_seconds_count');
    const headsBefore = await headTimes();
    const upstreamHeadsBefore = front.count('HEAD', '/');
    assert.equal(await pullImage(mirror.url, 'library/app', 'v1'), app.manifestDigest);
    for (const b of app.blobs) assert.equal(front.count('GET', `/blobs/${b.digest}`), 1, 'each blob fetched once');
    assert.equal(await metric('registry_proxy_misses_total', { type: 'blob', upstream: 'default' }), missesBefore + app.blobs.length);

    const hitsBefore = await metric('registry_proxy_hits_total', { type: 'blob', upstream: 'default' });
    assert.equal(await pullImage(mirror.url, 'library/app', 'v1'), app.manifestDigest);
    for (const b of app.blobs) assert.equal(front.count('GET', `/blobs/${b.digest}`), 1, 'the second pull is served from the cache');
    assert.equal(front.count('GET', `/manifests/${app.manifestDigest}`), 1, 'manifest fetched once');
    assert.equal(front.count('HEAD', '/manifests/v1'), 2, 'the tag is checked upstream on every pull');
    assert.equal(await metric('registry_proxy_hits_total', { type: 'blob', upstream: 'default' }), hitsBefore + app.blobs.length);
    assert.equal(await headTimes(), headsBefore + front.count('HEAD', '/') - upstreamHeadsBefore, 'every upstream HEAD is timed');
  });

  it('stores the content in Distribution\'s layout under the mirror\'s root', async () => {
    const { readFileSync } = await import('node:fs');
    const base = `${mirror.root}/docker/registry/v2`;
    assert.equal(readFileSync(`${base}/repositories/library/app/_manifests/tags/v1/current/link`, 'utf8'), app.manifestDigest);
    for (const b of app.blobs) {
      const hex = b.digest.slice('sha256:'.length);
      assert.deepEqual(readFileSync(`${base}/blobs/sha256/${hex.slice(0, 2)}/${hex}/data`), b.data);
    }
  });

  it('sees a tag moved upstream', async () => {
    const v2 = await pushImage(upstream.url, 'library/app', 'v1', { layers: 1 });
    assert.notEqual(v2.manifestDigest, app.manifestDigest);
    assert.equal(await pullImage(mirror.url, 'library/app', 'v1'), v2.manifestDigest);
    // The old revision is still there by digest.
    assert.equal((await getManifest(mirror.url, 'library/app', app.manifestDigest)).status, 200);
    app = v2;
  });

  it('lists tags from the upstream', async () => {
    await pushImage(upstream.url, 'library/app', 'v9');
    const res = await fetch(`${mirror.url}/v2/library/app/tags/list`);
    assert.deepEqual(((await res.json()) as { tags: string[] }).tags, ['v1', 'v9']);
  });

  it('refuses every write route to a mirrored name with 405 UNSUPPORTED naming the upstream, storing nothing', async () => {
    const data = Buffer.from('pushed to a mirror');
    const d = sha256(data);
    const id = randomUUID();
    const state = packUploadState(MIRROR_SECRET, { Name: 'library/app', UUID: id, Offset: 0, StartedAt: new Date().toISOString() });
    const upload = `/v2/library/app/blobs/uploads/${id}?_state=${state}`;
    const octet = { 'Content-Type': 'application/octet-stream' };
    const manifestType = { 'Content-Type': 'application/vnd.oci.image.manifest.v1+json' };
    const routes: Array<[string, string, string, RequestInit?]> = [
      ['start an upload', 'POST', '/v2/library/app/blobs/uploads/'],
      ['upload a blob in one POST', 'POST', `/v2/library/app/blobs/uploads/?digest=${d}`, { body: data, headers: octet }],
      ['mount a blob', 'POST', `/v2/library/app/blobs/uploads/?mount=${app.blobs[1]!.digest}&from=library/app`],
      ['read an upload', 'GET', upload],
      ['append to an upload', 'PATCH', upload, { body: data, headers: octet }],
      ['complete an upload', 'PUT', `${upload}&digest=${d}`, { body: data, headers: octet }],
      ['cancel an upload', 'DELETE', upload],
      ['put a manifest by tag', 'PUT', '/v2/library/app/manifests/pushed', { body: new Uint8Array(app.manifest), headers: manifestType }],
      ['put a manifest by digest', 'PUT', `/v2/library/app/manifests/${app.manifestDigest}`, { body: new Uint8Array(app.manifest), headers: manifestType }],
      ['delete a tag', 'DELETE', '/v2/library/app/manifests/v1'],
      ['delete a manifest', 'DELETE', `/v2/library/app/manifests/${app.manifestDigest}`],
      ['delete a blob', 'DELETE', `/v2/library/app/blobs/${app.blobs[1]!.digest}`],
      ['delete the repository', 'DELETE', '/v2/_berth/repositories/library/app'],
    ];
    for (const [what, method, path, init] of routes) {
      const res = await fetch(`${mirror.url}${path}`, { method, ...init });
      const text = await res.text();
      assert.equal(res.status, 405, `${what}: ${res.status} ${text}`);
      const body = JSON.parse(text) as { errors: { code: string; message: string }[] };
      assert.equal(body.errors[0]!.code, 'UNSUPPORTED', what);
      assert.match(body.errors[0]!.message, /pull-through cache/, what);
    }
    assert.ok(!existsSync(blobDataPath(mirror.root, d)), 'no pushed blob in storage');
    assert.equal(await pullImage(mirror.url, 'library/app', 'v1'), app.manifestDigest, 'the cached image is still served');
  });

  it('answers 404 for content the upstream does not have', async () => {
    assert.equal((await getManifest(mirror.url, 'library/app', 'nope')).status, 404);
    assert.equal((await getBlob(mirror.url, 'library/app', sha256('nothing'))).status, 404);
    assert.equal((await getManifest(mirror.url, 'library/none', 'v1')).status, 404);
  });

  it('fetches a large blob once for concurrent pulls, streaming it to every client', async () => {
    const big = await pushImage(upstream.url, 'library/big', 'v1', { layers: 1, layerSize: 20 * 1024 * 1024 });
    const layer = big.blobs[1]!;
    const pulls = await Promise.all(Array.from({ length: 5 }, () => getBlob(mirror.url, 'library/big', layer.digest)));
    for (const p of pulls) {
      assert.equal(p.status, 200);
      assert.equal(sha256(p.body), layer.digest);
    }
    // Ranges are served too (from storage once the blob has landed).
    const range = await getBlob(mirror.url, 'library/big', layer.digest, { Range: 'bytes=10-19' });
    assert.equal(range.status, 206);
    assert.deepEqual(range.body, layer.data.subarray(10, 20));
    assert.equal(front.count('GET', `/blobs/${layer.digest}`), 1, 'one upstream fetch');
  });

  it('answers 502 naming the upstream when it fails, and keeps serving cached content', async () => {
    await front.setMode('fail');
    try {
      const res = await fetch(`${mirror.url}/v2/library/fresh/manifests/${sha256('x')}`);
      assert.equal(res.status, 502);
      const body = (await res.json()) as { errors: { code: string; message: string }[] };
      assert.equal(body.errors[0]!.code, 'UNAVAILABLE');
      assert.ok(body.errors[0]!.message.includes(front.url), body.errors[0]!.message);
      assert.equal(await pullImage(mirror.url, 'library/app', 'v1'), app.manifestDigest, 'cached tag and content');
    } finally {
      await front.setMode('forward');
    }
  });

  it('answers 503 when the upstream hangs, after the configured timeout (not a hang)', async () => {
    await pullImage(strict.url, 'library/app', 'v1');
    await front.setMode('hang');
    try {
      const res = await fetch(`${strict.url}/v2/library/fresh/blobs/${sha256('y')}`, { signal: AbortSignal.timeout(20_000) });
      assert.equal(res.status, 503);
      const body = (await res.json()) as { errors: { code: string; message: string }[] };
      assert.equal(body.errors[0]!.code, 'UNAVAILABLE');
      assert.match(body.errors[0]!.message, /no answer within 1s/);
      assert.equal(await pullImage(strict.url, 'library/app', 'v1'), app.manifestDigest, 'cached tag and content');
    } finally {
      await front.setMode('forward');
    }
  });

  it('breaks off a blob whose upstream body stalls longer than idletimeout, storing nothing', async () => {
    const img = await pushImage(upstream.url, 'library/stall', 'v1', { layerSize: 256 * 1024 });
    const layer = img.blobs[1]!;
    await front.setMode('stall');
    try {
      await assert.rejects(getBlob(strict.url, 'library/stall', layer.digest));
    } finally {
      await front.setMode('forward');
    }
    assert.ok(!existsSync(layerLinkPath(strict.root, 'library/stall', layer.digest)));
    const again = await getBlob(strict.url, 'library/stall', layer.digest);
    assert.equal(sha256(again.body), layer.digest, 'fetched again once the upstream recovers');
  });

  it('stores nothing when the upstream sends bytes that do not match the digest', async () => {
    const img = await pushImage(upstream.url, 'library/corrupt', 'v1', { layerSize: 256 * 1024 });
    const layer = img.blobs[1]!;
    await front.setMode('corrupt');
    try {
      // The mirror streams the blob as it fetches it; finding the digest wrong at the end it breaks
      // the connection (the fetch has failed by then, so the next request starts a new one).
      await getUntilClosed(`${mirror.url}/v2/library/corrupt/blobs/${layer.digest}`);
    } finally {
      await front.setMode('forward');
    }
    assert.ok(!existsSync(layerLinkPath(mirror.root, 'library/corrupt', layer.digest)));
    const again = await getBlob(mirror.url, 'library/corrupt', layer.digest);
    assert.equal(sha256(again.body), layer.digest);
  });

  it('serves cached content when the upstream is gone, and fails fast for the rest', async () => {
    await upstream.stop();
    await front.stop();
    assert.equal(await pullImage(mirror.url, 'library/app', 'v1'), app.manifestDigest);
    const res = await fetch(`${mirror.url}/v2/library/other/manifests/latest`);
    assert.equal(res.status, 503);
    const body = (await res.json()) as { errors: { code: string; message: string }[] };
    assert.match(body.errors[0]!.message, /unreachable/);
  });
});
