// Berth's registry_* metric families against Distribution 2.8.2's (Debian's docker-registry with
// http.debug.prometheus): after the same requests, both are scraped and every registry_* family
// Distribution shows must be in Berth's scrape with the same type, label names and bucket bounds,
// and the counts that describe the requests must agree.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseFamilies, type Family, type Sample } from '../helpers/prometheus.js';
import { freePort, registryConfig, requireTools, sha256, startRegistry, type RegistryKind } from '../clients/harness.js';

const OCI_MANIFEST = 'application/vnd.oci.image.manifest.v1+json';

/** The same requests for both: pushes in Distribution 2.8.2's way (POST, PATCH, PUT), pulls, lookups, a delete. */
async function exercise(url: string): Promise<{ layerSize: number }> {
  const pushBlob = async (data: Buffer) => {
    let r = await fetch(`${url}/v2/metrics/app/blobs/uploads/`, { method: 'POST' });
    assert.equal(r.status, 202);
    r = await fetch(new URL(r.headers.get('location')!, url), { method: 'PATCH', body: new Uint8Array(data), headers: { 'content-type': 'application/octet-stream' } });
    assert.equal(r.status, 202);
    const put = new URL(r.headers.get('location')!, url);
    put.searchParams.set('digest', sha256(data));
    r = await fetch(put, { method: 'PUT' });
    assert.equal(r.status, 201);
    return sha256(data);
  };
  const config = Buffer.from('{"architecture":"amd64","os":"linux"}');
  const layer = Buffer.alloc(5000, 'l');
  const manifest = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: OCI_MANIFEST,
      config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: await pushBlob(config), size: config.length },
      layers: [{ mediaType: 'application/vnd.oci.image.layer.v1.tar', digest: await pushBlob(layer), size: layer.length }],
    }),
  );
  const expect = async (method: string, path: string, status: number, init: RequestInit = {}) => {
    const r = await fetch(`${url}${path}`, { method, ...init });
    await r.arrayBuffer();
    assert.equal(r.status, status, `${method} ${path}`);
  };
  await expect('PUT', '/v2/metrics/app/manifests/v1', 201, { body: new Uint8Array(manifest), headers: { 'content-type': OCI_MANIFEST } });
  for (let i = 0; i < 3; i++) await expect('GET', '/v2/metrics/app/manifests/v1', 200, { headers: { accept: OCI_MANIFEST } });
  await expect('HEAD', '/v2/metrics/app/manifests/v1', 200, { headers: { accept: OCI_MANIFEST } });
  await expect('GET', '/v2/metrics/app/manifests/missing', 404, { headers: { accept: OCI_MANIFEST } });
  await expect('GET', `/v2/metrics/app/blobs/${sha256(layer)}`, 200);
  await expect('HEAD', `/v2/metrics/app/blobs/${sha256(layer)}`, 200);
  await expect('GET', '/v2/', 200);
  await expect('GET', '/v2/_catalog', 200);
  await expect('GET', '/v2/metrics/app/tags/list', 200);
  await expect('DELETE', `/v2/metrics/app/manifests/${sha256(manifest)}`, 202);
  return { layerSize: layer.length };
}

async function scrapeAfterExercise(kind: RegistryKind, dir: string): Promise<{ families: Map<string, Family>; layerSize: number }> {
  const debugPort = await freePort();
  const registry = await startRegistry({
    kind,
    root: join(dir, kind, 'root'),
    stateDir: join(dir, kind),
    config: (port) =>
      registryConfig({ root: join(dir, kind, 'root'), port, httpExtra: `debug:\n  addr: 127.0.0.1:${debugPort}\n  prometheus:\n    enabled: true\n    path: /metrics` }).replace(
        'storage:\n',
        'storage:\n  cache:\n    blobdescriptor: inmemory\n',
      ),
  });
  try {
    const { layerSize } = await exercise(registry.url);
    const r = await fetch(`http://127.0.0.1:${debugPort}/metrics`);
    assert.equal(r.status, 200);
    return { families: parseFamilies(await r.text()), layerSize };
  } finally {
    await registry.stop();
  }
}

const labelNames = (s: Sample) =>
  Object.keys(s.labels)
    .filter((k) => k !== 'le')
    .sort()
    .join(',');
const key = (s: Sample, names: string[]) => names.map((n) => `${n}=${s.labels[n] ?? ''}`).join(',');
const value = (f: Family | undefined, sample: string, labels: Record<string, string>) =>
  f?.samples.find((s) => s.name === sample && Object.entries(labels).every(([k, v]) => s.labels[k] === v))?.value;

test('every registry_* family Distribution 2.8.2 shows is in Berth with its type, labels and buckets, and the request counts agree', async (t) => {
  requireTools('docker-registry');
  const dir = mkdtempSync(join(tmpdir(), 'berth-metric-families-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const distribution = await scrapeAfterExercise('distribution', dir);
  const berth = await scrapeAfterExercise('berth', dir);

  const theirs = [...distribution.families].filter(([name]) => name.startsWith('registry_'));
  // What Distribution 2.8.2 shows after these requests (a smaller set would make this test weaker).
  assert.deepEqual(
    theirs.map(([name]) => name).sort(),
    [
      'registry_http_in_flight_requests',
      'registry_http_request_duration_seconds',
      'registry_http_request_size_bytes',
      'registry_http_requests_total',
      'registry_http_response_size_bytes',
      'registry_storage_action_seconds',
      'registry_storage_cache_total',
    ],
  );
  for (const [name, family] of theirs) {
    const ours = berth.families.get(name);
    assert.ok(ours, `Berth has no ${name}`);
    assert.equal(ours.type, family.type, `${name}: type`);
    assert.deepEqual(new Set(ours.samples.map(labelNames)), new Set(family.samples.map(labelNames)), `${name}: label names`);
    assert.deepEqual(new Set(ours.samples.map((s) => s.name)), new Set(family.samples.map((s) => s.name)), `${name}: sample names`);
    if (family.type === 'histogram') {
      const bounds = (f: Family) => [...new Set(f.samples.filter((s) => s.name.endsWith('_bucket')).map((s) => s.labels.le))];
      assert.deepEqual(bounds(ours), bounds(family), `${name}: bucket bounds (le, as written)`);
    }
  }
  // Every registry_* family Berth shows is Distribution's (Berth's own are berth_*), except the
  // notification and proxy families of later Distribution releases, absent from this configuration.
  for (const name of berth.families.keys()) {
    if (name.startsWith('registry_')) assert.ok(distribution.families.has(name), `Berth's ${name} is not Distribution's: name it berth_*`);
  }

  const d = (name: string) => distribution.families.get(name)!;
  const b = (name: string) => berth.families.get(name)!;
  // Requests by code, handler and method: the same series with the same counts.
  const requests = (f: Family) => new Map(f.samples.map((s) => [key(s, ['code', 'handler', 'method']), s.value]));
  assert.deepEqual(requests(b('registry_http_requests_total')), requests(d('registry_http_requests_total')));
  for (const [family, names] of [
    ['registry_http_request_duration_seconds', ['handler', 'method']],
    ['registry_http_request_size_bytes', ['handler']],
    ['registry_http_response_size_bytes', ['handler']],
  ] as const) {
    const counts = (f: Family) => new Map(f.samples.filter((s) => s.name === `${family}_count`).map((s) => [key(s, [...names]), s.value]));
    assert.deepEqual(counts(b(family)), counts(d(family)), `${family}: counts`);
  }
  // The bytes a blob GET and HEAD send: the body only, in both.
  for (const handler of ['blob', 'blob_upload', 'blob_upload_chunk']) {
    const sum = (f: Family) => value(f, 'registry_http_response_size_bytes_sum', { handler });
    assert.equal(sum(b('registry_http_response_size_bytes')), sum(d('registry_http_response_size_bytes')), `response bytes of ${handler}`);
  }
  assert.equal(value(b('registry_http_response_size_bytes'), 'registry_http_response_size_bytes_sum', { handler: 'blob' }), berth.layerSize);
  // Requests sizes: headers and body, so at least the bytes pushed.
  assert.ok(value(b('registry_http_request_size_bytes'), 'registry_http_request_size_bytes_sum', { handler: 'blob_upload_chunk' })! > berth.layerSize);
  // Nothing in flight once the requests are done, on Distribution's handlers.
  const inFlight = (f: Family) => new Map(f.samples.map((s) => [s.labels.handler, s.value]));
  assert.deepEqual(inFlight(b('registry_http_in_flight_requests')), inFlight(d('registry_http_in_flight_requests')));
  // Storage actions carry Distribution's names, and the common ones are there in both.
  const actions = (f: Family) => new Set(f.samples.map((s) => s.labels.action));
  const vocabulary = new Set(['GetContent', 'PutContent', 'Reader', 'Writer', 'Stat', 'List', 'Move', 'Delete', 'URLFor', 'Walk']);
  for (const action of actions(b('registry_storage_action_seconds'))) assert.ok(vocabulary.has(action!), `action ${action} is not one of Distribution's`);
  for (const action of ['GetContent', 'PutContent', 'Move', 'Delete']) {
    assert.ok(actions(b('registry_storage_action_seconds')).has(action) && actions(d('registry_storage_action_seconds')).has(action), action);
  }
  // The blob descriptor cache: Request = Hit + Miss.
  for (const f of [b('registry_storage_cache_total'), d('registry_storage_cache_total')]) {
    const of = (type: string) => value(f, 'registry_storage_cache_total', { type })!;
    assert.ok(of('Request') > 0);
    assert.equal(of('Request'), of('Hit') + of('Miss'));
  }
});
