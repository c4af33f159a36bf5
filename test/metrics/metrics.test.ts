import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { parseMetrics, pushImage, series, startBerth } from '../notifications/harness.js';
import { counterFamily } from '../../src/metrics/registry.js';

test('the debug server serves Prometheus metrics: requests, latency, bytes, storage operations, process', async (t) => {
  const root = await mkdtemp(path.join(tmpdir(), 'berth-metrics-'));
  const berth = await startBerth(`
storage:
  filesystem:
    rootdirectory: ${root}
http:
  addr: 127.0.0.1:0
  debug:
    addr: 127.0.0.1:0
    prometheus:
      enabled: true
      path: /custom-metrics
`);
  t.after(async () => {
    await berth.close();
    await rm(root, { recursive: true, force: true });
  });
  assert.ok(berth.debugUrl);
  const scrape = async () => {
    const r = await fetch(`${berth.debugUrl}/custom-metrics`);
    assert.equal(r.status, 200);
    assert.match(r.headers.get('content-type')!, /^text\/plain/);
    return parseMetrics(await r.text());
  };
  const before = await scrape();
  const count = (m: Map<string, number>, labels: Record<string, string>) => series(m, 'registry_http_requests_total', labels) ?? 0;

  const image = await pushImage(berth.url, 'metrics/app', 'v1');
  for (let i = 0; i < 5; i++) {
    const r = await fetch(`${berth.url}/v2/metrics/app/manifests/v1`);
    assert.equal(r.status, 200);
    await r.arrayBuffer();
  }
  assert.equal((await fetch(`${berth.url}/v2/metrics/app/manifests/nope`)).status, 404);
  const blob = await fetch(`${berth.url}/v2/metrics/app/blobs/${image.layer}`);
  await blob.arrayBuffer();
  // A method no route knows is counted under other, so clients cannot create series at will.
  await fetch(`${berth.url}/v2/`, { method: 'PROPFIND' });

  const after = await scrape();
  const manifestGet = { handler: 'manifest', method: 'get', code: '200' };
  assert.equal(count(after, manifestGet) - count(before, manifestGet), 5);
  assert.equal(count(after, { handler: 'manifest', method: 'get', code: '404' }) - count(before, { handler: 'manifest', method: 'get', code: '404' }), 1);
  assert.equal(count(after, { handler: 'manifest', method: 'put', code: '201' }) - count(before, { handler: 'manifest', method: 'put', code: '201' }), 1);
  assert.ok(count(after, { handler: 'blob_upload', method: 'post', code: '201' }) >= 1);
  assert.ok(count(after, { handler: 'blob_upload_chunk', method: 'patch', code: '202' }) >= 1);
  assert.ok(count(after, { handler: 'base', method: 'other' }) >= 1);

  const latencyCount = series(after, 'registry_http_request_duration_seconds_count', { handler: 'manifest', method: 'get' })!;
  const infBucket = series(after, 'registry_http_request_duration_seconds_bucket', { handler: 'manifest', method: 'get', le: '+Inf' })!;
  assert.ok(latencyCount >= 6);
  assert.equal(infBucket, latencyCount);
  assert.ok(series(after, 'registry_http_request_duration_seconds_sum', { handler: 'manifest', method: 'get' })! > 0);

  // Request sizes count the manifest body (and headers); response sizes count the blob's bytes served, as Distribution does.
  const inBytes = series(after, 'registry_http_request_size_bytes_sum', { handler: 'manifest' })!;
  assert.ok(inBytes > image.manifestBody.length);
  const outBytes = series(after, 'registry_http_response_size_bytes_sum', { handler: 'blob' })!;
  assert.equal(outBytes, image.layerSize);
  assert.equal(series(after, 'registry_http_response_size_bytes_bucket', { handler: 'blob', le: '1024' }), 1);

  assert.ok(series(after, 'registry_storage_action_seconds_count', { driver: 'filesystem', action: 'PutContent' })! >= 1);
  assert.ok(series(after, 'registry_storage_action_seconds_count', { driver: 'filesystem', action: 'GetContent' })! >= 1);
  assert.ok(series(after, 'berth_storage_action_seconds_count', { driver: 'filesystem', action: 'writer.commit' })! >= 1);
  assert.equal(series(after, 'registry_http_in_flight_requests', { handler: 'manifest' }), 0);
  assert.notEqual(series(after, 'process_cpu_user_seconds_total'), undefined);
  assert.notEqual(series(after, 'nodejs_eventloop_lag_seconds'), undefined);

  // Other parts (garbage collection) add their metrics to the same registry.
  counterFamily('registry_test_extra_total', 'added by a test', ['kind']).cell('x').value += 2;
  assert.equal(series(await scrape(), 'registry_test_extra_total', { kind: 'x' }), 2);

  // The metrics path is the only one besides /debug/health.
  assert.equal((await fetch(`${berth.debugUrl}/metrics`)).status, 404);
});

test('without prometheus.enabled the debug server serves health only', async (t) => {
  const berth = await startBerth(`
storage:
  inmemory: {}
http:
  addr: 127.0.0.1:0
  debug:
    addr: 127.0.0.1:0
`);
  t.after(() => berth.close());
  assert.equal((await fetch(`${berth.debugUrl}/metrics`)).status, 404);
  const health = await fetch(`${berth.debugUrl}/debug/health`);
  assert.equal(health.status, 200);
  assert.deepEqual(await health.json(), {});
});

test('scheduled garbage collection reports its runs, the blobs and bytes it reclaimed, and its duration', async (t) => {
  const root = await mkdtemp(path.join(tmpdir(), 'berth-gc-metrics-'));
  const berth = await startBerth(`
storage:
  filesystem:
    rootdirectory: ${root}
  delete:
    enabled: true
http:
  addr: 127.0.0.1:0
  debug:
    addr: 127.0.0.1:0
    prometheus:
      enabled: true
      path: /metrics
berth:
  gc:
    enabled: true
    interval: 200ms
    grace: 2s
`);
  t.after(async () => {
    await berth.close();
    await rm(root, { recursive: true, force: true });
  });
  const image = await pushImage(berth.url, 'gc/app', 'v1', 'gc-metrics');
  assert.equal((await fetch(`${berth.url}/v2/gc/app/manifests/${image.manifest}`, { method: 'DELETE' })).status, 202);
  // Wait for a run that reclaimed the image's three blobs (config, layer, manifest). The grace
  // period keeps the config blob from being collected between its upload and the manifest's push
  // (a run every 200 ms with no grace raced the push on a loaded machine).
  let m = new Map<string, number>();
  for (let i = 0; i < 300; i++) {
    m = parseMetrics(await (await fetch(`${berth.debugUrl}/metrics`)).text());
    if ((series(m, 'berth_gc_blobs_deleted_total') ?? 0) >= 3) break;
    await new Promise((r) => setTimeout(r, 100));
  }
  assert.equal(series(m, 'berth_gc_blobs_deleted_total'), 3);
  assert.ok((series(m, 'berth_gc_bytes_reclaimed_total') ?? 0) >= image.layerSize + image.manifestBody.length);
  assert.ok((series(m, 'berth_gc_runs_total', { dryrun: 'false' }) ?? 0) >= 1);
  assert.ok((series(m, 'berth_gc_duration_seconds_count') ?? 0) >= 1);
  assert.equal((await fetch(`${berth.url}/v2/gc/app/blobs/${image.layer}`, { method: 'HEAD' })).status, 404);
});
