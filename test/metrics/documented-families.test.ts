// Every metric family docs/operations.md and docs/mirror.md list is served, with the type and
// label names they give, and the ones that count failures and reclaimed content move when those
// happen: a storage write that fails, a collection that deletes an untagged manifest, mirrored
// pulls and an upstream that is down. The lists are read from the documents themselves, so a
// family renamed in the code but not in the docs (or the other way round) fails here.
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { ManualClock } from '../helpers/clock.js';
import { freePort, REPO_ROOT } from '../helpers/registry.js';
import { parseFamilies, total, type Family } from '../helpers/prometheus.js';
import { OCI_MANIFEST, Receiver, pushImage, sha256, startBerth, waitFor } from '../notifications/harness.js';

interface Documented {
  name: string;
  /** Prometheus type, when the document gives one. */
  type?: string;
  /** Label names, when the document lists them all. */
  labels?: string[];
}

/** The rows of the first table after `heading` in `file`, as cells. */
function table(file: string, heading: string): string[][] {
  const text = readFileSync(path.join(REPO_ROOT, file), 'utf8');
  const start = text.indexOf(`\n${heading}\n`);
  assert.ok(start >= 0, `${file} has a "${heading}" section`);
  const rows: string[][] = [];
  for (const line of text.slice(start + heading.length + 2).split('\n')) {
    if (line.startsWith('## ')) break;
    if (line.startsWith('| `')) rows.push(line.split('|').slice(1, -1).map((c) => c.trim()));
  }
  assert.ok(rows.length > 0, `${file}: a metrics table under "${heading}"`);
  return rows;
}

const ticked = (cell: string) => [...cell.matchAll(/`([^`]+)`/g)].map((m) => m[1]!);

function documentedFamilies(): { families: Documented[]; prefixes: string[] } {
  const mirror = table('docs/mirror.md', '## Metrics').map(([name, labels]) => ({ name: ticked(name!)[0]!, labels: ticked(labels!), histogram: /histogram/.test(labels!) }));
  const families: Documented[] = [];
  const prefixes: string[] = [];
  for (const [names, type, labels] of table('docs/operations.md', '## Metrics (Prometheus)')) {
    const listed = labels!.includes('…') ? undefined : labels!.split(',').map((l) => l.trim()).filter(Boolean);
    for (const name of ticked(names!)) {
      if (!name.endsWith('*')) {
        families.push({ name, ...(type ? { type } : {}), ...(listed ? { labels: listed } : {}) });
        continue;
      }
      const prefix = name.slice(0, -1);
      const detailed = mirror.filter((m) => m.name.startsWith(prefix));
      if (detailed.length === 0) prefixes.push(prefix);
      for (const m of detailed) families.push({ name: m.name, type: m.histogram ? 'histogram' : type || 'counter', labels: m.labels });
    }
  }
  return { families, prefixes };
}

/** Label names of a family's samples (a histogram's `le` aside), each sample's set as a sorted list. */
function labelSets(f: Family): string[][] {
  return [...new Set(f.samples.map((s) => JSON.stringify(Object.keys(s.labels).filter((k) => k !== 'le').sort())))].map((j) => JSON.parse(j) as string[]);
}

test('the metric families the docs list are served with their type and labels, and count what they say', { timeout: 180_000 }, async () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'berth-doc-metrics-'));
  const receiver = await Receiver.start();
  const clock = new ManualClock();
  const upstream = await startBerth(`storage:\n  filesystem:\n    rootdirectory: ${dir}/upstream\nhttp:\n  addr: 127.0.0.1:0\n`);
  const closedPort = await freePort();
  const berth = await startBerth(
    [
      'storage:',
      '  filesystem:',
      `    rootdirectory: ${dir}/root`,
      '  delete:',
      '    enabled: true',
      '  cache:',
      '    blobdescriptor: inmemory',
      'http:',
      '  addr: 127.0.0.1:0',
      '  debug:',
      '    addr: 127.0.0.1:0',
      '    prometheus:',
      '      enabled: true',
      'notifications:',
      '  endpoints:',
      '    - name: doc',
      `      url: ${receiver.url}`,
      '      timeout: 5s',
      '      threshold: 3',
      '      backoff: 100ms',
      'berth:',
      '  quotas:',
      '    - repositories: ["app"]',
      '      maxbytes: 1GiB',
      '  gc:',
      '    enabled: true',
      '    interval: 1h',
      '    grace: 0s',
      '    deleteuntagged: true',
      '  proxy:',
      '    upstreams:',
      '      - prefix: hub',
      `        remoteurl: ${upstream.url.replace(/\/$/, '')}`,
      '      - prefix: down',
      `        remoteurl: http://127.0.0.1:${closedPort}`,
      '',
    ].join('\n'),
    'info',
    { clock },
  );
  const url = berth.url.replace(/\/$/, '');
  const scrape = async () => parseFamilies(await (await fetch(`${berth.debugUrl}/metrics`)).text());
  try {
    // Pushes and pulls (HTTP, storage, cache and notification families).
    const img = await pushImage(url, 'app', 'v1', 'doc');
    for (const p of [`/v2/app/manifests/v1`, `/v2/app/blobs/${img.layer}`]) {
      const r = await fetch(`${url}${p}`, { headers: { accept: OCI_MANIFEST } });
      await r.arrayBuffer();
      assert.equal(r.status, 200, p);
    }
    // An untagged manifest for the collection to delete.
    const untagged = Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: OCI_MANIFEST, config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: img.config, size: 40 }, layers: [], annotations: { untagged: 'yes' } }));
    let r = await fetch(`${url}/v2/app/manifests/${sha256(untagged)}`, { method: 'PUT', body: new Uint8Array(untagged), headers: { 'content-type': OCI_MANIFEST } });
    assert.equal(r.status, 201, await r.text());

    // A storage write that fails: a directory stands where the tag's link file goes.
    const before = await scrape();
    const errorsBefore = before.has('berth_storage_errors_total') ? total(before, 'berth_storage_errors_total') : 0;
    mkdirSync(path.join(dir, 'root/docker/registry/v2/repositories/app/_manifests/tags/blocked/current/link'), { recursive: true });
    writeFileSync(path.join(dir, 'root/docker/registry/v2/repositories/app/_manifests/tags/blocked/current/link/in-the-way'), '');
    r = await fetch(`${url}/v2/app/manifests/blocked`, { method: 'PUT', body: new Uint8Array(img.manifestBody), headers: { 'content-type': OCI_MANIFEST } });
    await r.arrayBuffer();
    assert.equal(r.status, 500, 'a failed storage write is a server error');

    // Mirrored pulls through a live upstream, and one through an upstream that is down.
    const mirrored = await pushImage(upstream.url.replace(/\/$/, ''), 'lib/app', 'v1', 'mirrored');
    const pull = async (p: string) => {
      const res = await fetch(`${url}${p}`, { headers: { accept: OCI_MANIFEST } });
      await res.arrayBuffer();
      assert.equal(res.status, 200, p);
    };
    await pull('/v2/hub/lib/app/manifests/v1');
    await pull(`/v2/hub/lib/app/blobs/${mirrored.layer}`);
    // The client has every byte a moment before the fetch ends (verified, linked, let go): a pull
    // meanwhile joins the running fetch and counts neither a hit nor a miss. Pulled again until one
    // is served from the cache.
    const hits = async () => total(await scrape(), 'registry_proxy_hits_total', { type: 'blob', upstream: 'hub' });
    await waitFor('a pull served from the cache', async () => {
      await pull(`/v2/hub/lib/app/blobs/${mirrored.layer}`);
      return (await hits()) >= 1 ? true : undefined;
    });
    r = await fetch(`${url}/v2/down/lib/app/manifests/v1`);
    await r.arrayBuffer();
    assert.equal(r.status, 503);

    // One scheduled collection (the clock passes its interval), and the events delivered.
    clock.advance(3600_000);
    await waitFor('the collection', () => (berth.logs.some((l) => l.msg === 'garbage collection finished') ? true : undefined));
    await waitFor('events delivered', () => (receiver.events.length > 0 ? true : undefined));

    const after = await scrape();
    const { families, prefixes } = documentedFamilies();
    assert.ok(families.length >= 20, `the docs list ${families.length} families`);
    for (const doc of families) {
      const f = after.get(doc.name);
      assert.ok(f, `${doc.name} (documented) is served`);
      if (doc.type) assert.equal(f.type, doc.type, `${doc.name}: type`);
      if (doc.labels) {
        assert.ok(f.samples.length > 0, `${doc.name}: has samples after the exercise`);
        for (const set of labelSets(f)) assert.deepEqual(set, [...doc.labels].sort(), `${doc.name}: labels`);
      }
    }
    for (const prefix of prefixes) assert.ok([...after.keys()].some((n) => n.startsWith(prefix)), `a ${prefix}* family is served`);

    // What the failure and reclaim counters say.
    assert.equal(total(after, 'berth_storage_errors_total') - errorsBefore, 1, 'one failed driver operation');
    assert.equal(total(after, 'berth_gc_manifests_deleted_total'), 1, 'the untagged manifest');
    assert.ok(total(after, 'berth_gc_blobs_deleted_total') >= 1);
    assert.equal(total(after, 'berth_gc_runs_total', { dryrun: 'false' }), 1);
    assert.equal(total(after, 'registry_proxy_misses_total', { type: 'blob', upstream: 'hub' }), 1, 'the layer fetched once');
    assert.equal(total(after, 'registry_proxy_hits_total', { type: 'blob', upstream: 'hub' }), 1, 'and served from the cache the second time');
    assert.equal(total(after, 'registry_proxy_pulled_bytes_total', { type: 'blob', upstream: 'hub' }), mirrored.layerSize);
    assert.ok(total(after, 'berth_proxy_upstream_errors_total', { upstream: 'down', reason: 'unreachable' }) >= 1);
    assert.ok(total(after, 'registry_notifications_events_total', { type: 'Successes' }) >= 1);
  } finally {
    await berth.close();
    await upstream.close();
    await receiver.close();
    rmSync(dir, { recursive: true, force: true });
  }
});
