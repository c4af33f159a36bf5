import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Receiver, startBerth, pushImage, waitFor, OCI_MANIFEST } from './harness.js';

const BLOB = 'application/octet-stream';

test('each operation sends the events Distribution sends, in its envelope', async (t) => {
  const all = await Receiver.start();
  const filtered = await Receiver.start();
  const berth = await startBerth(`
storage:
  inmemory: {}
  delete: { enabled: true }
http:
  addr: 127.0.0.1:0
notifications:
  events:
    includereferences: true
  endpoints:
    - name: all
      url: ${all.url}
      headers:
        Authorization: [Bearer sekret-token]
        X-Extra: [a, b]
      timeout: 2s
    - name: filtered
      url: ${filtered.url}
      ignoredmediatypes: [${BLOB}]
      ignore:
        actions: [pull, mount]
    - name: unused
      url: http://127.0.0.1:1/never
      disabled: true
`);
  t.after(async () => {
    await berth.close();
    await all.close();
    await filtered.close();
  });
  const base = berth.url;
  const host = new URL(base).host;

  const image = await pushImage(base, 'app/one', 'v1');
  let r = await fetch(`${base}/v2/app/one/manifests/v1`, { headers: { 'x-request-id': 'test-req-42', 'user-agent': 'berth-test/1' } });
  assert.equal(r.status, 200);
  assert.equal(r.headers.get('x-request-id'), 'test-req-42');
  await r.arrayBuffer();
  r = await fetch(`${base}/v2/app/one/manifests/${image.manifest}`, { method: 'HEAD' });
  assert.equal(r.status, 200);
  r = await fetch(`${base}/v2/app/one/manifests/v1`, { headers: { 'if-none-match': `"${image.manifest}"` } });
  assert.equal(r.status, 304); // no event, as Distribution
  r = await fetch(`${base}/v2/app/one/blobs/${image.layer}`);
  assert.equal(r.status, 200);
  await r.arrayBuffer();
  r = await fetch(`${base}/v2/app/one/blobs/${image.config}`, { method: 'HEAD' });
  assert.equal(r.status, 200);
  r = await fetch(`${base}/v2/app/two/blobs/uploads/?mount=${image.layer}&from=app/one`, { method: 'POST' });
  assert.equal(r.status, 201);
  r = await fetch(`${base}/v2/app/one/manifests/v1`, { method: 'DELETE' });
  assert.equal(r.status, 202);
  r = await fetch(`${base}/v2/app/one/manifests/v2`, { method: 'PUT', body: new Uint8Array(image.manifestBody), headers: { 'content-type': OCI_MANIFEST } });
  assert.equal(r.status, 201);
  r = await fetch(`${base}/v2/app/one/manifests/${image.manifest}`, { method: 'DELETE' });
  assert.equal(r.status, 202);
  r = await fetch(`${base}/v2/app/two/blobs/${image.layer}`, { method: 'DELETE' });
  assert.equal(r.status, 202);
  r = await fetch(`${base}/v2/app/one/blobs/${image.layer}`);
  assert.equal(r.status, 200); // still linked in app/one
  await r.arrayBuffer();
  r = await fetch(`${base}/v2/_berth/repositories/app/two`, { method: 'DELETE' });
  assert.equal(r.status, 202);

  const events = await waitFor('15 events', () => (all.events.length >= 15 ? all.events : undefined));
  const summary = events.map((e) => [e.action, e.target.repository, e.target.mediaType, e.target.digest, e.target.tag, e.target.fromRepository]);
  assert.deepEqual(summary, [
    ['push', 'app/one', BLOB, image.config, undefined, undefined],
    ['push', 'app/one', BLOB, image.layer, undefined, undefined],
    ['push', 'app/one', OCI_MANIFEST, image.manifest, 'v1', undefined],
    ['pull', 'app/one', OCI_MANIFEST, image.manifest, 'v1', undefined],
    ['pull', 'app/one', OCI_MANIFEST, image.manifest, undefined, undefined],
    ['pull', 'app/one', BLOB, image.layer, undefined, undefined],
    ['pull', 'app/one', BLOB, image.config, undefined, undefined],
    ['mount', 'app/two', BLOB, image.layer, undefined, 'app/one'],
    ['delete', 'app/one', undefined, undefined, 'v1', undefined],
    ['push', 'app/one', OCI_MANIFEST, image.manifest, 'v2', undefined],
    ['delete', 'app/one', undefined, image.manifest, undefined, undefined],
    ['delete', 'app/one', undefined, undefined, 'v2', undefined],
    ['delete', 'app/two', undefined, image.layer, undefined, undefined],
    ['pull', 'app/one', BLOB, image.layer, undefined, undefined],
    ['delete', 'app/two', undefined, undefined, undefined, undefined],
  ]);

  // One event per envelope, POSTed with Distribution's media type and the configured headers.
  for (const received of all.received) {
    assert.equal(received.headers['content-type'], 'application/vnd.docker.distribution.events.v2+json');
    assert.equal(received.headers.authorization, 'Bearer sekret-token');
    assert.equal(received.headers['x-extra'], 'a, b');
    assert.equal(received.body.events.length, 1);
  }

  const pushed = events[2]!;
  assert.match(pushed.id, /^[0-9a-f-]{36}$/);
  assert.ok(!Number.isNaN(Date.parse(pushed.timestamp)));
  assert.equal(pushed.target.size, image.manifestBody.length);
  assert.equal(pushed.target.length, image.manifestBody.length);
  assert.equal(pushed.target.url, `${base}/v2/app/one/manifests/${image.manifest}`);
  assert.deepEqual(
    pushed.target.references.map((d: { digest: string }) => d.digest),
    [image.config, image.layer],
  );
  assert.equal(pushed.request.method, 'PUT');
  assert.equal(pushed.request.host, host);
  assert.match(pushed.request.addr, /^127\.0\.0\.1:\d+$/);
  assert.deepEqual(pushed.actor, {});
  assert.match(pushed.source.addr, /:0$|:\d+$/);
  assert.match(pushed.source.instanceID, /^[0-9a-f-]{36}$/);
  assert.equal(new Set(events.map((e) => e.source.instanceID)).size, 1);
  assert.equal(new Set(events.map((e) => e.id)).size, events.length);

  const pulled = events[3]!;
  assert.deepEqual(pulled.request, { id: 'test-req-42', addr: pulled.request.addr, host, method: 'GET', useragent: 'berth-test/1' });
  const layerPull = events[5]!;
  assert.equal(layerPull.target.size, image.layerSize);
  assert.equal(layerPull.target.url, `${base}/v2/app/one/blobs/${image.layer}`);
  assert.equal(layerPull.target.references, undefined);

  // Ignored actions and media types never reach the filtered endpoint; deletes carry no media type.
  const kept = await waitFor('7 filtered events', () => (filtered.events.length >= 7 ? filtered.events : undefined));
  assert.deepEqual(
    kept.map((e) => [e.action, e.target.mediaType, e.target.tag ?? e.target.digest]),
    [
      ['push', OCI_MANIFEST, 'v1'],
      ['delete', undefined, 'v1'],
      ['push', OCI_MANIFEST, 'v2'],
      ['delete', undefined, image.manifest],
      ['delete', undefined, 'v2'],
      ['delete', undefined, image.layer],
      ['delete', undefined, undefined],
    ],
  );

  // Credentials from endpoint headers never reach the log.
  const logged = JSON.stringify(berth.logs);
  assert.ok(!logged.includes('sekret-token'));
  assert.ok(berth.logs.some((l) => l.msg === 'notification endpoint disabled' && l.endpoint === 'unused'));
});
