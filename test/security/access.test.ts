/**
 * What a repository grants stays inside it: a mount from a repository the caller cannot pull,
 * blob and manifest reads (and deletes) through a repository that holds no link to them, another
 * user's upload URL with and without `_state` (as given, or moved to the caller's own
 * repository), a forged `_state`, and encoded slashes and dot segments in names as permissions
 * see them. htpasswd with per-repository permissions: alice owns alice/**, bob owns bob/**, and
 * both may push to shared/**.
 */
import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { basic, pushImage, tempDir, writeHtpasswd } from '../auth/helpers.js';
import { digest, random } from '../helpers/content.js';
import type { Registry } from '../helpers/registry.js';
import { assertStillServing, startLogged } from './harness.js';

const SECRET = 'security-suite-secret'; // http.secret in startLogged's configuration
const alice = { Authorization: basic('alice', 'alice-pw') };
const bob = { Authorization: basic('bob', 'bob-pw') };
const OCTETS = { 'Content-Type': 'application/octet-stream' };

function code(res: { json(): any }): string {
  return res.json().errors[0].code;
}

/** An upload's `_state` in Distribution's format, signed with `secret`. */
function forgeState(secret: string, state: object): string {
  const json = Buffer.from(JSON.stringify(state));
  return Buffer.concat([createHmac('sha256', secret).update(json).digest(), json]).toString('base64url');
}

describe('repository boundaries', () => {
  const tmp = tempDir('boundaries');
  let reg: Registry;
  let image: { manifestDigest: string; blobDigest: string };
  const layer = random(2048);
  const layerDigest = digest(layer);

  before(async () => {
    const htpasswd = path.join(tmp.dir, 'htpasswd');
    writeHtpasswd(htpasswd, { alice: 'alice-pw', bob: 'bob-pw' });
    reg = await startLogged({
      extra: [
        'auth:',
        '  htpasswd:',
        '    realm: security',
        `    path: ${htpasswd}`,
        'berth:',
        '  auth:',
        '    permissions:',
        '      - repositories: ["alice/**"]',
        '        users: [alice]',
        '        actions: [pull, push, delete]',
        '      - repositories: ["bob/**"]',
        '        users: [bob]',
        '        actions: [pull, push, delete]',
        '      - repositories: ["shared/**"]',
        '        users: [alice, bob]',
        '        actions: [pull, push]',
      ].join('\n'),
    });
    image = await pushImage(reg, 'alice/private', 'v1', alice);
    assert.equal((await reg.req('POST', `/v2/alice/private/blobs/uploads/?digest=${layerDigest}`, { headers: { ...alice, ...OCTETS }, body: layer })).status, 201);
  });
  after(async () => {
    await reg.stop();
    tmp.cleanup();
  });

  it('a mount from a repository the caller cannot pull is refused and mounts nothing', async () => {
    const res = await reg.req('POST', `/v2/bob/app/blobs/uploads/?mount=${layerDigest}&from=alice/private`, { headers: bob });
    assert.equal(res.status, 403);
    assert.equal(code(res), 'DENIED');
    assert.equal((await reg.req('HEAD', `/v2/bob/app/blobs/${layerDigest}`, { headers: bob })).status, 404);
    // Without `from` a mount is a plain upload: a digest alone reaches nothing.
    const bare = await reg.req('POST', `/v2/bob/app/blobs/uploads/?mount=${layerDigest}`, { headers: bob });
    assert.equal(bare.status, 202);
    // From a repository bob may pull but that holds no link: a plain upload too.
    const unlinked = await reg.req('POST', `/v2/bob/app/blobs/uploads/?mount=${layerDigest}&from=bob/empty`, { headers: bob });
    assert.equal(unlinked.status, 202);
    assert.equal((await reg.req('HEAD', `/v2/bob/app/blobs/${layerDigest}`, { headers: bob })).status, 404);
    // The owner may mount it, which shows the refusals above were about access.
    assert.equal((await reg.req('POST', `/v2/alice/copy/blobs/uploads/?mount=${layerDigest}&from=alice/private`, { headers: alice })).status, 201);
  });

  it('blobs and manifests are not read or deleted through a repository without a link to them', async () => {
    for (const [who, repo] of [[alice, 'alice/other'], [bob, 'bob/app']] as const) {
      for (const method of ['GET', 'HEAD']) {
        const blob = await reg.req(method, `/v2/${repo}/blobs/${layerDigest}`, { headers: who });
        assert.equal(blob.status, 404, `${method} blob via ${repo}`);
        const config = await reg.req(method, `/v2/${repo}/blobs/${image.blobDigest}`, { headers: who });
        assert.equal(config.status, 404, `${method} config via ${repo}`);
        const manifest = await reg.req(method, `/v2/${repo}/manifests/${image.manifestDigest}`, { headers: who });
        assert.equal(manifest.status, 404, `${method} manifest via ${repo}`);
        if (method === 'GET') {
          assert.equal(code(blob), 'BLOB_UNKNOWN');
          assert.equal(code(manifest), 'MANIFEST_UNKNOWN');
        }
      }
      const referrers = await reg.req('GET', `/v2/${repo}/referrers/${image.manifestDigest}`, { headers: who });
      assert.deepEqual(referrers.status === 200 ? referrers.json().manifests : [], []);
    }
    // Deleting through a repository without the link removes nothing.
    assert.equal((await reg.req('DELETE', `/v2/bob/app/blobs/${layerDigest}`, { headers: bob })).status, 404);
    assert.equal((await reg.req('DELETE', `/v2/bob/app/manifests/${image.manifestDigest}`, { headers: bob })).status, 404);
    assert.equal((await reg.req('GET', `/v2/alice/private/blobs/${layerDigest}`, { headers: alice })).status, 200);
    assert.equal((await reg.req('GET', `/v2/alice/private/manifests/${image.manifestDigest}`, { headers: alice })).status, 200);
  });

  it('an encoded slash in a name is the slash it stands for, to permissions too', async () => {
    // %2F decodes before routing (as in Distribution): bob%2Fapp is bob/app, which alice may not touch.
    assert.equal((await reg.req('GET', '/v2/bob%2Fapp/tags/list', { headers: alice })).status, 403);
    assert.equal((await reg.req('POST', '/v2/bob%2Fapp/blobs/uploads/', { headers: alice })).status, 403);
    assert.equal((await reg.req('GET', `/v2/alice%2Fprivate/manifests/${image.manifestDigest}`, { headers: bob })).status, 403);
    assert.equal((await reg.req('GET', `/v2/alice%2Fprivate/manifests/${image.manifestDigest}`, { headers: alice })).status, 200);
    // A dot segment, encoded or not, never reaches the permission check with a name that passes.
    for (const name of ['bob/../alice/private', 'bob%2F..%2Falice%2Fprivate', 'bob/%2e%2e/alice/private']) {
      const res = await reg.req('GET', `/v2/${name}/manifests/${image.manifestDigest}`, { headers: bob });
      assert.equal(res.status, 400, name);
      assert.equal(code(res), 'NAME_INVALID', name);
    }
  });

  it("another user's upload URL, with and without _state, reaches nothing", async () => {
    const started = await reg.req('POST', '/v2/alice/app/blobs/uploads/', { headers: alice });
    assert.equal(started.status, 202);
    const location = new URL(started.header('location')!, reg.url);
    const id = started.header('docker-upload-uuid')!;
    const state = location.searchParams.get('_state')!;
    const plain = location.pathname;
    const data = random(100);
    const d = digest(data);
    const tries: Array<[string, string, number]> = [
      // As given, and without _state: bob may not touch alice/app at all.
      ['as given', `${plain}?_state=${state}`, 403],
      ['without _state', plain, 403],
      // Moved into bob's own repository: the state names alice/app; without it, no upload URL is valid.
      ['moved, with _state', `/v2/bob/app/blobs/uploads/${id}?_state=${state}`, 400],
      ['moved, without _state', `/v2/bob/app/blobs/uploads/${id}`, 400],
    ];
    for (const [label, target, status] of tries) {
      for (const method of ['GET', 'PATCH', 'PUT', 'DELETE']) {
        const url = method === 'PUT' ? `${target}${target.includes('?') ? '&' : '?'}digest=${d}` : target;
        const res = await reg.req(method, url, { headers: { ...bob, ...OCTETS }, body: method === 'PATCH' || method === 'PUT' ? data : undefined });
        assert.equal(res.status, status, `${label}: ${method} → ${res.status} ${res.text()}`);
      }
    }
    // alice's upload is untouched and completes.
    const status = await reg.req('GET', location.toString(), { headers: alice });
    assert.equal(status.status, 204);
    assert.equal(status.header('range'), '0-0');
    const put = await reg.req('PUT', `${location}&digest=${d}`, { headers: { ...alice, ...OCTETS }, body: data });
    assert.equal(put.status, 201);
    assert.equal((await reg.req('HEAD', `/v2/bob/app/blobs/${d}`, { headers: bob })).status, 404);
  });

  it('a forged or misapplied _state is refused with BLOB_UPLOAD_INVALID', async () => {
    const started = await reg.req('POST', '/v2/shared/app/blobs/uploads/', { headers: alice });
    const location = new URL(started.header('location')!, reg.url);
    const id = started.header('docker-upload-uuid')!;
    const other = await reg.req('POST', '/v2/shared/app/blobs/uploads/', { headers: alice });
    const otherState = new URL(other.header('location')!, reg.url).searchParams.get('_state')!;
    const real = Buffer.from(location.searchParams.get('_state')!, 'base64url');
    const json = JSON.parse(real.subarray(32).toString()) as Record<string, unknown>;
    const tampered = Buffer.concat([real.subarray(0, 32), Buffer.from(JSON.stringify({ ...json, Offset: 999 }))]).toString('base64url');
    const forged: Record<string, string> = {
      'payload changed, MAC kept': tampered,
      'signed with another secret': forgeState('not-the-secret', { ...json }),
      'signed right, another upload': otherState,
      'signed right, another repository': forgeState(SECRET, { ...json, Name: 'bob/app' }),
      'not base64': '!!!!',
      'too short': 'AAAA',
      'empty MAC': Buffer.from(JSON.stringify(json)).toString('base64url'),
    };
    for (const [label, value] of Object.entries(forged)) {
      for (const who of [alice, bob]) {
        const res = await reg.req('PATCH', `${location.pathname}?_state=${encodeURIComponent(value)}`, { headers: { ...who, ...OCTETS }, body: random(10) });
        assert.equal(res.status, 400, `${label}: ${res.status} ${res.text()}`);
        assert.equal(code(res), 'BLOB_UPLOAD_INVALID', label);
      }
    }
    // Within the repository the upload id is the capability, as in Distribution: a user who may
    // push there continues it (the digest given at the end is still verified).
    const res = await reg.req('GET', location.toString(), { headers: bob });
    assert.equal(res.status, 204);
    assert.equal(res.header('docker-upload-uuid'), id);
    assert.equal(res.header('range'), '0-0', 'no forged request wrote anything');
    await assertStillServing(reg, alice);
  });
});
