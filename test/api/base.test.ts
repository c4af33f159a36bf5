import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startRegistry, type Registry } from '../helpers/registry.js';
import { assertError } from '../helpers/push.js';
import { deviation } from '../helpers/target.js';

let reg: Registry;
before(async () => { reg = await startRegistry(); });
after(async () => { await reg?.stop(); });

test('GET /v2/ answers 200 with Docker-Distribution-API-Version: registry/2.0', async () => {
  const res = await reg.req('GET', '/v2/');
  assert.equal(res.status, 200);
  assert.equal(res.header('docker-distribution-api-version'), 'registry/2.0');
  assert.match(res.header('content-type') ?? '', /^application\/json/);
  assert.deepEqual(res.json(), {});
});

test('GET /v2 without the trailing slash is also the version check', async () => {
  const res = await reg.req('GET', '/v2');
  // Distribution routes /v2 and /v2/ alike; a redirect to /v2/ would also satisfy clients.
  assert.ok([200, 301, 307, 308].includes(res.status), `status ${res.status}`);
});

test('HEAD /v2/ answers 200 with the API version header and no body', async () => {
  const res = await reg.req('HEAD', '/v2/');
  assert.equal(res.status, 200);
  assert.equal(res.header('docker-distribution-api-version'), 'registry/2.0');
  assert.equal(res.body.length, 0);
});

test('error responses also carry Docker-Distribution-API-Version', async () => {
  const res = await reg.req('GET', '/v2/no-such-repo/manifests/latest');
  assert.equal(res.status, 404);
  assert.equal(res.header('docker-distribution-api-version'), 'registry/2.0');
});

test('a path outside the API answers 404, not a server error', async () => {
  const res = await reg.req('GET', '/v3/');
  assert.equal(res.status, 404);
  const other = await reg.req('GET', '/v2/repo/unknown-endpoint/x');
  assert.equal(other.status, 404);
});

test('an unsupported method on a known route answers 405 with Allow', async () => {
  const res = await reg.req('PATCH', '/v2/repo/manifests/latest', { body: 'x' });
  assert.equal(res.status, 405);
  assert.deepEqual(res.header('allow')!.split(/,\s*/).sort(), ['DELETE', 'GET', 'HEAD', 'PUT']);
});

test('the 405 for an unsupported method carries UNSUPPORTED in the error envelope', deviation('methodNotAllowedBody'), async () => {
  assertError(await reg.req('PATCH', '/v2/repo/manifests/latest', { body: 'x' }), 405, 'UNSUPPORTED');
});
