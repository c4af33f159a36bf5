/**
 * `..`, `%2e%2e` and `%2F` in repository names, upload ids, digests and tags, on every route and
 * method, sent byte for byte over a raw socket: each is refused with a 4xx and an OCI error (were
 * any path resolved to repository `evil`, which holds an image, it would answer 200), and
 * afterwards the storage holds only what the valid requests wrote, with nothing beside its root.
 */
import assert from 'node:assert/strict';
import { readdir } from 'node:fs/promises';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { digest, random } from '../helpers/content.js';
import { rawRequest } from '../helpers/http.js';
import { pushBlob, pushImage, startUpload } from '../helpers/push.js';
import type { Registry } from '../helpers/registry.js';
import { assertStillServing, startLogged } from './harness.js';

/** Set in before(): a layer of `evil:latest`, so that any path that reached `evil` would answer 200. */
let D = '';
const UUID = '0f6c1c4e-4f2b-4c1a-9d8e-2b1f0c9a8e7d';

const BAD_NAMES = [
  'good/../evil', 'good/%2e%2e/evil', 'good/%2E%2E/evil', '..', '%2e%2e', '.', 'good/..', 'good/.',
  '..%2Fevil', 'good%2F..%2Fevil', 'good%2f%2e%2e%2fevil', '%2e%2e%2f%2e%2e%2fetc', 'good/%2e/evil',
  'good//evil', 'good%2F%2Fevil', '%2Fgood', 'good%2F', '%252e%252e', 'good%00evil', 'good/..%2F..%2F..%2Ftmp',
  'good/../../evil', 'x/%2e%2e/%2e%2e/evil', 'evil/.', 'evil/%2e', './evil', '%2e/evil',
];
const BAD_IDS = ['..', '%2e%2e', '.', '%2E%2E', `${UUID}%2F..`, `..%2F..%2F..%2Fetc%2Fpasswd`, `%2e%2e%2f_uploads`, `x%2F..%2F..%2Fy`, `${UUID}%00`];
const badDigests = () => ['..', '%2e%2e', `sha256:..%2F..%2F${'a'.repeat(58)}`, `sha256%2F..%2F${'a'.repeat(64)}`, `..%2F${D}`, `${D}%2F..`];
const BAD_TAGS = ['..', '%2e%2e', '.', `..%2F..%2Flatest`];

/** Every route and method a name appears in. */
function routesFor(name: string): Array<[string, string]> {
  return [
    ['GET', `/v2/${name}/tags/list`],
    ['GET', `/v2/${name}/manifests/latest`],
    ['HEAD', `/v2/${name}/manifests/latest`],
    ['PUT', `/v2/${name}/manifests/latest`],
    ['DELETE', `/v2/${name}/manifests/${D}`],
    ['GET', `/v2/${name}/blobs/${D}`],
    ['HEAD', `/v2/${name}/blobs/${D}`],
    ['DELETE', `/v2/${name}/blobs/${D}`],
    ['POST', `/v2/${name}/blobs/uploads/`],
    ['POST', `/v2/${name}/blobs/uploads/?digest=${D}`],
    ['POST', `/v2/${name}/blobs/uploads/?mount=${D}&from=good`],
    ['GET', `/v2/${name}/blobs/uploads/${UUID}`],
    ['PATCH', `/v2/${name}/blobs/uploads/${UUID}`],
    ['PUT', `/v2/${name}/blobs/uploads/${UUID}?digest=${D}`],
    ['DELETE', `/v2/${name}/blobs/uploads/${UUID}`],
    ['GET', `/v2/${name}/referrers/${D}`],
    ['DELETE', `/v2/_berth/repositories/${name}`],
    ['GET', `/v2/_berth/images/${name}/latest`],
  ];
}

/** Every file under `dir`, relative to it. */
async function files(dir: string, rel = ''): Promise<string[]> {
  const out: string[] = [];
  for (const e of await readdir(path.join(dir, rel), { withFileTypes: true })) {
    const p = rel ? `${rel}/${e.name}` : e.name;
    if (e.isDirectory()) out.push(...(await files(dir, p)));
    else out.push(p);
  }
  return out;
}

describe('dot segments and encoded slashes', () => {
  let reg: Registry;
  before(async () => {
    reg = await startLogged();
    D = (await pushImage(reg, 'evil', 'latest')).layers[0]!.digest;
  });
  after(() => reg.stop());

  /** Sends the request as it is and checks the exact refusal (the status alone for HEAD). */
  async function refused(method: string, target: string, expected: [number, string]): Promise<void> {
    const u = new URL(reg.url);
    const body = method === 'PUT' || method === 'PATCH' || method === 'POST' ? Buffer.from('{"schemaVersion":2}') : Buffer.alloc(0);
    const head = `${method} ${target} HTTP/1.1\r\nHost: ${u.host}\r\nContent-Type: application/octet-stream\r\nContent-Length: ${body.length}\r\nConnection: close\r\n\r\n`;
    const res = await rawRequest(reg.url, Buffer.concat([Buffer.from(head, 'latin1'), body]));
    const what = `${method} ${target}`;
    assert.equal(res.status, expected[0], `${what}: ${res.status} ${res.body}`);
    if (method !== 'HEAD') assert.equal((JSON.parse(res.body) as { errors: Array<{ code: string }> }).errors[0]?.code, expected[1], what);
  }
  /** A path segment that decodes to something holding a slash matches no route at all. */
  const NO_ROUTE: [number, string] = [404, 'UNSUPPORTED'];
  const slashed = (segment: string) => decodeURIComponent(segment).includes('/');

  it('in repository names, on every route', async () => {
    for (const name of BAD_NAMES) for (const [method, target] of routesFor(name)) await refused(method, target, [400, 'NAME_INVALID']);
  });

  it('in upload ids, digests and tags', async () => {
    const { location } = await startUpload(reg, 'good');
    const own = new URL(location);
    for (const id of BAD_IDS) {
      for (const method of ['GET', 'PATCH', 'PUT', 'DELETE']) {
        const digestParam = method === 'PUT' ? `digest=${D}` : '';
        // Without a _state, refused before the id is looked at (as Distribution); with the real
        // upload's _state attached, a state that is not this id's.
        await refused(method, `/v2/good/blobs/uploads/${id}${digestParam ? `?${digestParam}` : ''}`, slashed(id) ? NO_ROUTE : [400, 'BLOB_UPLOAD_INVALID']);
        await refused(method, `/v2/good/blobs/uploads/${id}${own.search}${digestParam ? `&${digestParam}` : ''}`, slashed(id) ? NO_ROUTE : [400, 'BLOB_UPLOAD_INVALID']);
      }
    }
    for (const d of badDigests()) {
      for (const method of ['GET', 'HEAD', 'DELETE']) {
        await refused(method, `/v2/good/blobs/${d}`, slashed(d) ? NO_ROUTE : [400, 'DIGEST_INVALID']);
        // A manifest lookup by anything that is neither tag nor digest finds nothing (as Distribution).
        await refused(method, `/v2/good/manifests/${d}`, slashed(d) ? NO_ROUTE : [404, 'MANIFEST_UNKNOWN']);
      }
      await refused('GET', `/v2/good/referrers/${d}`, slashed(d) ? NO_ROUTE : [400, 'DIGEST_INVALID']);
      await refused('POST', `/v2/good/blobs/uploads/?digest=${d}`, [400, 'DIGEST_INVALID']);
      await refused('PUT', `${own.pathname}${own.search}&digest=${d}`, [400, 'DIGEST_INVALID']);
    }
    for (const tag of BAD_TAGS) {
      for (const method of ['GET', 'HEAD', 'PUT', 'DELETE']) {
        await refused(method, `/v2/good/manifests/${tag}`, slashed(tag) ? NO_ROUTE : method === 'PUT' ? [400, 'TAG_INVALID'] : [404, 'MANIFEST_UNKNOWN']);
      }
    }
    // Decoded, this one is a manifest route again, for a repository named with dot segments.
    for (const method of ['GET', 'HEAD', 'PUT', 'DELETE']) await refused(method, '/v2/good/manifests/..%2F..%2F..%2Fevil%2Fmanifests%2Flatest', [400, 'NAME_INVALID']);
  });

  it('leave the storage holding only what valid requests wrote, and nothing beside its root', async () => {
    const data = random(64);
    await pushBlob(reg, 'good', data);
    assert.deepEqual(await readdir(reg.base), ['storage']);
    const repos = new Set<string>();
    for (const f of await files(reg.root)) {
      assert.ok(!f.split('/').some((c) => c === '..' || c === '.' || c.includes('%')), f);
      const m = /^docker\/registry\/v2\/repositories\/(.+?)\/_(?:uploads|layers|manifests)\//.exec(f);
      if (m) repos.add(m[1]!);
    }
    assert.deepEqual([...repos].sort(), ['evil', 'good']);
    assert.equal((await reg.req('GET', `/v2/good/blobs/${digest(data)}`)).status, 200);
    await assertStillServing(reg);
  });
});
