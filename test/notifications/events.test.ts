// Notification events checked against Distribution 2.8.2 itself: the same requests are sent to
// Debian's docker-registry and to `berth serve`, each notifying two receivers (every event, and
// one filtered by media type and action), and the envelopes they deliver must be the same, field
// for field, apart from ids, times and addresses. Berth's own operations (DELETE by tag,
// repository delete) are checked on their own below.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { registryConfig, requireTools, sha256, startRegistry, type RegistryKind } from '../clients/harness.js';
import { OCI_MANIFEST, Receiver, pushImage, startBerth, waitFor, type Received } from './harness.js';

const BLOB = 'application/octet-stream';

function notifications(all: Receiver, filtered: Receiver): string {
  return [
    'notifications:',
    '  events:',
    '    includereferences: true',
    '  endpoints:',
    '    - name: all',
    `      url: ${all.url}`,
    '      headers:',
    '        Authorization: [Bearer sekret-token]',
    '        X-Extra: [a, b]',
    '      timeout: 5s',
    '      threshold: 5',
    '      backoff: 100ms',
    '    - name: filtered',
    `      url: ${filtered.url}`,
    '      timeout: 5s',
    '      threshold: 5',
    '      backoff: 100ms',
    `      ignoredmediatypes: [${BLOB}]`,
    '      ignore:',
    '        actions: [pull, mount]',
    '',
  ].join('\n');
}

/** The requests both registries get: pushes (as Distribution 2.8.2 takes them), pulls, a mount, deletes. */
async function exercise(base: string): Promise<void> {
  const expect = async (status: number, method: string, path: string, init: RequestInit = {}) => {
    const r = await fetch(new URL(path, base), { method, ...init, headers: { 'user-agent': 'berth-events-test/1', 'x-request-id': 'events-test-1', ...(init.headers as Record<string, string>) } });
    await r.arrayBuffer();
    assert.equal(r.status, status, `${method} ${path}`);
    return r;
  };
  const pushBlob = async (repo: string, data: Buffer) => {
    const r = await expect(202, 'POST', `/v2/${repo}/blobs/uploads/`);
    const put = new URL(r.headers.get('location')!, base);
    put.searchParams.set('digest', sha256(data));
    await expect(201, 'PUT', put.toString(), { body: new Uint8Array(data), headers: { 'content-type': BLOB } });
    return { digest: sha256(data), size: data.length };
  };
  const config = await pushBlob('app/one', Buffer.from('{"architecture":"amd64","os":"linux"}'));
  const layer = await pushBlob('app/one', Buffer.alloc(3000, 'l'));
  const manifest = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: OCI_MANIFEST,
      config: { mediaType: 'application/vnd.oci.image.config.v1+json', ...config },
      layers: [{ mediaType: 'application/vnd.oci.image.layer.v1.tar', ...layer }],
    }),
  );
  const digest = sha256(manifest);
  const accept = { accept: OCI_MANIFEST };
  await expect(201, 'PUT', '/v2/app/one/manifests/v1', { body: new Uint8Array(manifest), headers: { 'content-type': OCI_MANIFEST } });
  await expect(200, 'GET', '/v2/app/one/manifests/v1', { headers: accept });
  await expect(200, 'HEAD', `/v2/app/one/manifests/${digest}`, { headers: accept });
  await expect(304, 'GET', '/v2/app/one/manifests/v1', { headers: { ...accept, 'if-none-match': `"${digest}"` } });
  await expect(200, 'GET', `/v2/app/one/blobs/${layer.digest}`);
  await expect(200, 'HEAD', `/v2/app/one/blobs/${config.digest}`);
  await expect(201, 'POST', `/v2/app/two/blobs/uploads/?mount=${layer.digest}&from=app/one`);
  await expect(201, 'PUT', '/v2/app/one/manifests/v2', { body: new Uint8Array(manifest), headers: { 'content-type': OCI_MANIFEST } });
  await expect(202, 'DELETE', `/v2/app/one/manifests/${digest}`);
  await expect(202, 'DELETE', `/v2/app/two/blobs/${layer.digest}`);
  await expect(200, 'GET', `/v2/app/one/blobs/${layer.digest}`);
  // Last, and not filtered out: once its event has arrived at both receivers, all have.
  await pushBlob('marker/end', Buffer.from('marker'));
  await expect(201, 'PUT', '/v2/marker/end/manifests/end', {
    body: new Uint8Array(Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: OCI_MANIFEST, config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: sha256('marker'), size: 6 }, layers: [] }))),
    headers: { 'content-type': OCI_MANIFEST },
  });
}

/**
 * An event with what differs between two registries by nature replaced: ids and times (checked
 * for form), the listening address in URLs and `request.host`, the client's port, the source, and
 * the request id.
 */
function normalise(e: Record<string, any>, base: string): Record<string, unknown> {
  assert.match(e.id, /^[0-9a-f-]{36}$/, 'event id');
  assert.ok(!Number.isNaN(Date.parse(e.timestamp)), 'event timestamp');
  assert.match(e.request.addr, /^127\.0\.0\.1:\d+$/, 'request.addr');
  assert.match(e.source.instanceID, /^[0-9a-f-]{36}$/, 'source.instanceID');
  assert.match(e.source.addr, /:\d+$/, 'source.addr');
  const host = new URL(base).host;
  assert.ok(typeof e.request.id === 'string' && e.request.id.length > 0, 'request.id');
  // request.id: Distribution generates one per request; Berth keeps a client's X-Request-Id (checked below).
  const text = JSON.stringify({ ...e, id: 'ID', timestamp: 'TIME', request: { ...e.request, id: 'REQUEST', addr: 'ADDR' }, source: Object.keys(e.source).sort() }).replaceAll(host, 'HOST');
  return JSON.parse(text) as Record<string, unknown>;
}

async function delivered(kind: RegistryKind, dir: string): Promise<{ all: Received[]; filtered: Received[]; base: string }> {
  const all = await Receiver.start();
  const filtered = await Receiver.start();
  const root = join(dir, kind, 'root');
  const registry = await startRegistry({ kind, root, stateDir: join(dir, kind), config: (port) => registryConfig({ root, port, extra: notifications(all, filtered) }) });
  try {
    await exercise(registry.url);
    const done = (r: Receiver) => r.events.some((e) => e.target.repository === 'marker/end' && e.target.tag === 'end');
    await waitFor(`${kind}: the last event at both receivers`, () => (done(all) && done(filtered) ? true : undefined), 30_000);
    return { all: [...all.received], filtered: [...filtered.received], base: registry.url };
  } finally {
    await registry.stop();
    await all.close();
    await filtered.close();
  }
}

test('each operation sends the events Distribution 2.8.2 sends, in its envelope, filtered as it filters', { timeout: 180_000 }, async (t) => {
  requireTools('docker-registry');
  const dir = mkdtempSync(join(tmpdir(), 'berth-events-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const theirs = await delivered('distribution', dir);
  const ours = await delivered('berth', dir);

  // Sanity: the reference sent something for every kind of operation.
  assert.deepEqual([...new Set(theirs.all.flatMap((r) => r.body.events.map((e) => e.action)))].sort(), ['delete', 'mount', 'pull', 'push']);

  const events = (d: { all: Received[]; base: string }, which: 'all' | 'filtered' = 'all') =>
    (d as unknown as Record<string, Received[]>)[which]!.flatMap((r) => r.body.events).map((e) => normalise(e, d.base));
  assert.deepEqual(events(ours), events(theirs), 'every event, field for field');
  assert.deepEqual(events(ours, 'filtered'), events(theirs, 'filtered'), 'the filtered endpoint');

  // The envelope: POSTed with the same media type and the configured headers, events per envelope alike.
  const envelope = (r: Received) => ({ type: r.headers['content-type'], auth: r.headers.authorization, extra: r.headers['x-extra'], events: r.body.events.length });
  assert.deepEqual(ours.all.map(envelope), theirs.all.map(envelope));
  assert.equal(ours.all[0]!.headers.authorization, 'Bearer sekret-token');
  // Berth's request id is the client's X-Request-Id, so an event can be matched with the client's log.
  assert.deepEqual([...new Set(ours.all.flatMap((r) => r.body.events.map((e) => e.request.id)))], ['events-test-1']);
});

test("Berth's own deletes (a tag, a repository) send delete events in Distribution's form; endpoint credentials stay out of the log", async (t) => {
  const all = await Receiver.start();
  const berth = await startBerth(`
storage:
  inmemory: {}
  delete: { enabled: true }
http:
  addr: 127.0.0.1:0
notifications:
  endpoints:
    - name: all
      url: ${all.url}
      headers:
        Authorization: [Bearer sekret-token]
      timeout: 2s
    - name: unused
      url: http://127.0.0.1:1/never
      disabled: true
`);
  t.after(async () => {
    await berth.close();
    await all.close();
  });
  const base = berth.url;
  const image = await pushImage(base, 'app/one', 'v1');
  let r = await fetch(`${base}/v2/app/one/manifests/v1`, { method: 'DELETE' });
  assert.equal(r.status, 202);
  r = await fetch(`${base}/v2/app/two/blobs/uploads/?mount=${image.layer}&from=app/one`, { method: 'POST' });
  assert.equal(r.status, 201);
  r = await fetch(`${base}/v2/_berth/repositories/app/two`, { method: 'DELETE' });
  assert.equal(r.status, 202);

  const events = await waitFor('6 events', () => (all.events.length >= 6 ? all.events : undefined));
  assert.deepEqual(
    events.map((e) => [e.action, e.target.repository, e.target.mediaType, e.target.digest, e.target.tag, e.target.fromRepository]),
    [
      ['push', 'app/one', BLOB, image.config, undefined, undefined],
      ['push', 'app/one', BLOB, image.layer, undefined, undefined],
      ['push', 'app/one', OCI_MANIFEST, image.manifest, 'v1', undefined],
      // A tag delete is reported as Distribution 3 reports one: repository and tag, nothing else.
      ['delete', 'app/one', undefined, undefined, 'v1', undefined],
      ['mount', 'app/two', BLOB, image.layer, undefined, 'app/one'],
      // A repository delete names the repository only (as Distribution 3's repository-deleted event).
      ['delete', 'app/two', undefined, undefined, undefined, undefined],
    ],
  );
  assert.deepEqual(Object.keys(events[3]!.target).sort(), ['repository', 'tag']);
  assert.deepEqual(Object.keys(events[5]!.target).sort(), ['repository']);

  const logged = JSON.stringify(berth.logs);
  assert.ok(!logged.includes('sekret-token'));
  assert.ok(berth.logs.some((l) => l.msg === 'notification endpoint disabled' && l.endpoint === 'unused'));
});
