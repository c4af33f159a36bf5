// auth.htpasswd against the real server: challenge, wrong and right credentials, Berth permissions
// (403 DENIED, anonymous pull, filtered catalog, mount needs pull on `from`), file reload,
// non-bcrypt entries, failed-login limiting, and bad input that must be a 4xx, never a 5xx.
import assert from 'node:assert/strict';
import { utimesSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { rawRequest } from '../helpers/http.js';
import type { Registry } from '../helpers/registry.js';
import { basic, pushImage, startWithAuth, tempDir, writeHtpasswd } from './helpers.js';

describe('auth.htpasswd without permissions (Distribution behaviour)', () => {
  const tmp = tempDir('htpasswd-plain');
  let reg: Registry;
  const file = path.join(tmp.dir, 'htpasswd');

  before(async () => {
    writeHtpasswd(file, { alice: 's3cret' }, ['md5user:$apr1$PIVAdOQM$Ta0JMgIJDXhoJQey/DYE61', 'plainuser:plaintext']);
    // Failed-login limiting is off here (tested below): this suite fails logins on purpose many times.
    reg = await startWithAuth(`auth:\n  htpasswd:\n    realm: berth-test\n    path: ${file}\nberth:\n  auth:\n    ratelimit:\n      failures: 0\n`);
  });
  after(async () => {
    await reg.stop();
    tmp.cleanup();
  });

  it('answers GET /v2/ without credentials with 401 and a Basic challenge naming the realm', async () => {
    const res = await reg.req('GET', '/v2/');
    assert.equal(res.status, 401);
    assert.equal(res.header('www-authenticate'), 'Basic realm="berth-test"');
    assert.equal(res.json().errors[0].code, 'UNAUTHORIZED');
  });

  it('refuses a wrong password and an unknown user with 401', async () => {
    for (const h of [basic('alice', 'wrong'), basic('nobody', 's3cret')]) {
      const res = await reg.req('GET', '/v2/', { headers: { Authorization: h } });
      assert.equal(res.status, 401);
      assert.match(res.header('www-authenticate') ?? '', /^Basic realm=/);
    }
  });

  it('lets a user in the file push, pull and delete', async () => {
    const auth = { Authorization: basic('alice', 's3cret') };
    assert.equal((await reg.req('GET', '/v2/', { headers: auth })).status, 200);
    const pushed = await pushImage(reg, 'plain/app', 'v1', auth);
    assert.equal(pushed.status, 201);
    assert.equal((await reg.req('GET', '/v2/plain/app/manifests/v1', { headers: auth })).status, 200);
    assert.equal((await reg.req('GET', '/v2/plain/app/manifests/v1')).status, 401);
    assert.equal((await reg.req('DELETE', `/v2/plain/app/manifests/${pushed.manifestDigest}`, { headers: auth })).status, 202);
  });

  it('refuses entries that are not bcrypt', async () => {
    assert.equal((await reg.req('GET', '/v2/', { headers: { Authorization: basic('md5user', 'x') } })).status, 401);
    assert.equal((await reg.req('GET', '/v2/', { headers: { Authorization: basic('plainuser', 'plaintext') } })).status, 401);
  });

  it('re-reads the file when it changes', async () => {
    assert.equal((await reg.req('GET', '/v2/', { headers: { Authorization: basic('carol', 'new') } })).status, 401);
    writeHtpasswd(file, { alice: 's3cret', carol: 'new' });
    const later = new Date(Date.now() + 5000);
    utimesSync(file, later, later);
    // The modification time is looked at no more than once a second.
    const deadline = Date.now() + 5000;
    let status = 0;
    while (Date.now() < deadline && status !== 200) {
      await new Promise((r) => setTimeout(r, 250));
      status = (await reg.req('GET', '/v2/', { headers: { Authorization: basic('carol', 'new') } })).status;
    }
    assert.equal(status, 200);
  });

  it('answers malformed Authorization headers with 401, never 5xx', async () => {
    const bad = [
      'Basic',
      'Basic ',
      'Basic !!!not-base64!!!',
      `Basic ${Buffer.from('no-colon').toString('base64')}`,
      `Basic ${Buffer.from(':emptyuser').toString('base64')}`,
      `Basic ${Buffer.from('ctl\u0001user:x').toString('base64')}`,
      `Basic ${Buffer.from('x'.repeat(5000) + ':y').toString('base64')}`,
      'Bearer abc.def.ghi',
      'Digest username="alice"',
      'basic',
      '\u00ff\u00fe',
    ];
    for (const value of bad) {
      const res = await reg.req('GET', '/v2/', { headers: { Authorization: value } });
      assert.equal(res.status, 401, value);
      assert.match(res.header('www-authenticate') ?? '', /^Basic realm=/);
    }
  });

  it('answers a user name that is not UTF-8 with 401', async () => {
    const raw = Buffer.concat([Buffer.from([0xc3, 0x28, 0xff]), Buffer.from(':pw')]).toString('base64');
    const res = await reg.req('GET', '/v2/', { headers: { Authorization: `Basic ${raw}` } });
    assert.equal(res.status, 401);
    assert.match(res.json().errors[0].message, /UTF-8/);
  });

  it('answers huge headers with 431', async () => {
    const res = await rawRequest(reg.url, `GET /v2/ HTTP/1.1\r\nHost: x\r\nAuthorization: Basic ${'A'.repeat(64 * 1024)}\r\nConnection: close\r\n\r\n`);
    assert.equal(res.status, 431);
  });
});

describe('auth.htpasswd with berth.auth permissions', () => {
  const tmp = tempDir('htpasswd-acl');
  let reg: Registry;
  const alice = { Authorization: basic('alice', 'a-pass') };
  const bob = { Authorization: basic('bob', 'b-pass') };
  const carol = { Authorization: basic('carol', 'c-pass') };

  before(async () => {
    const file = path.join(tmp.dir, 'htpasswd');
    writeHtpasswd(file, { alice: 'a-pass', bob: 'b-pass', carol: 'c-pass', mallory: 'm-pass' });
    reg = await startWithAuth([
      'auth:',
      '  htpasswd:',
      '    realm: acl',
      `    path: ${file}`,
      'berth:',
      '  auth:',
      '    groups:',
      '      admins: [alice]',
      '      team-a: [bob, carol]',
      '    permissions:',
      '      - repositories: ["**"]',
      '        groups: [admins]',
      '        actions: [pull, push, delete]',
      '      - repositories: ["team-a/**"]',
      '        groups: [team-a]',
      '        actions: [pull]',
      '      - repositories: ["team-a/**"]',
      '        users: [carol]',
      '        actions: [pull, push]',
      '      - repositories: ["public/*"]',
      '        anonymous: true',
      '    ratelimit:',
      '      failures: 3',
      '      window: 1m',
      '',
    ].join('\n'));
    assert.equal((await pushImage(reg, 'team-a/app', 'v1', alice)).status, 201);
    assert.equal((await pushImage(reg, 'public/base', 'v1', alice)).status, 201);
    assert.equal((await pushImage(reg, 'secret/thing', 'v1', alice)).status, 201);
  });
  after(async () => {
    await reg.stop();
    tmp.cleanup();
  });

  it('lets a pull-only user pull but not push or delete (403 DENIED)', async () => {
    assert.equal((await reg.req('GET', '/v2/team-a/app/manifests/v1', { headers: bob })).status, 200);
    assert.equal((await reg.req('GET', '/v2/team-a/app/tags/list', { headers: bob })).status, 200);
    const push = await pushImage(reg, 'team-a/app', 'v2', bob);
    assert.equal(push.status, 403);
    const res = await reg.req('PUT', '/v2/team-a/app/manifests/v2', { headers: { ...bob, 'Content-Type': 'application/vnd.oci.image.manifest.v1+json' }, body: '{}' });
    assert.equal(res.status, 403);
    assert.equal(res.json().errors[0].code, 'DENIED');
    const del = await reg.req('DELETE', '/v2/team-a/app/manifests/v1', { headers: bob });
    assert.equal(del.status, 403);
    assert.equal(del.json().errors[0].code, 'DENIED');
  });

  it('combines rules: a user with push in one rule pushes', async () => {
    assert.equal((await pushImage(reg, 'team-a/app', 'v3', carol)).status, 201);
    assert.equal((await reg.req('DELETE', '/v2/team-a/app/manifests/v3', { headers: carol })).status, 403);
  });

  it('denies a user with no rule anything on a repository', async () => {
    const mallory = { Authorization: basic('mallory', 'm-pass') };
    assert.equal((await reg.req('GET', '/v2/', { headers: mallory })).status, 200);
    assert.equal((await reg.req('GET', '/v2/team-a/app/manifests/v1', { headers: mallory })).status, 403);
    assert.equal((await reg.req('GET', '/v2/secret/thing/manifests/v1', { headers: bob })).status, 403);
  });

  it('lets anonymous callers pull public repositories and nothing else', async () => {
    assert.equal((await reg.req('GET', '/v2/public/base/manifests/v1')).status, 200);
    const push = await reg.req('POST', '/v2/public/base/blobs/uploads/');
    assert.equal(push.status, 401);
    assert.equal(push.header('www-authenticate'), 'Basic realm="acl"');
    assert.equal((await reg.req('GET', '/v2/team-a/app/manifests/v1')).status, 401);
    // public/* is one level only
    assert.equal((await reg.req('GET', '/v2/public/deep/er/manifests/v1')).status, 401);
  });

  it('takes empty Basic credentials (Basic Og==, what skopeo and podman send without a login) for an anonymous caller', async () => {
    for (const empty of [{ Authorization: 'Basic Og==' }, { Authorization: 'basic Og' }]) {
      assert.equal((await reg.req('GET', '/v2/public/base/manifests/v1', { headers: empty })).status, 200);
      const push = await reg.req('POST', '/v2/public/base/blobs/uploads/', { headers: empty });
      assert.equal(push.status, 401);
      assert.equal(push.header('www-authenticate'), 'Basic realm="acl"');
      assert.equal((await reg.req('GET', '/v2/team-a/app/manifests/v1', { headers: empty })).status, 401);
    }
  });

  it('shows in the catalog only the repositories the caller may pull', async () => {
    const list = async (h: Record<string, string>) => (await reg.req('GET', '/v2/_catalog', { headers: h })).json().repositories;
    assert.deepEqual(await list(alice), ['public/base', 'secret/thing', 'team-a/app']);
    assert.deepEqual(await list(bob), ['public/base', 'team-a/app']);
    assert.deepEqual(await list({}), ['public/base']);
  });

  it('needs pull on the source repository to mount from it', async () => {
    const secret = await reg.req('GET', '/v2/secret/thing/manifests/v1', { headers: alice });
    const configDigest = secret.json().config.digest as string;
    const res = await reg.req('POST', `/v2/team-a/app/blobs/uploads/?mount=${configDigest}&from=secret/thing`, { headers: carol });
    assert.equal(res.status, 403);
    assert.deepEqual(res.json().errors[0].detail, [{ type: 'repository', name: 'secret/thing', action: 'pull' }]);
    // Without `from` the mount is not attempted: a plain upload session starts instead.
    const plain = await reg.req('POST', `/v2/team-a/app/blobs/uploads/?mount=${configDigest}`, { headers: carol });
    assert.equal(plain.status, 202);
    // An admin may mount.
    const ok = await reg.req('POST', `/v2/team-a/app/blobs/uploads/?mount=${configDigest}&from=secret/thing`, { headers: alice });
    assert.equal(ok.status, 201);
  });

  it('limits failed logins per user and per client address with 429', async () => {
    for (let i = 0; i < 3; i++) assert.equal((await reg.req('GET', '/v2/', { headers: { Authorization: basic('carol', `guess${i}`) } })).status, 401);
    const limited = await reg.req('GET', '/v2/', { headers: carol });
    assert.equal(limited.status, 429);
    assert.equal(limited.json().errors[0].code, 'TOOMANYREQUESTS');
    assert.match(limited.header('retry-after') ?? '', /^\d+$/);
    // The address is over its limit too, so another user from here is refused as well.
    assert.equal((await reg.req('GET', '/v2/', { headers: alice })).status, 429);
    // Anonymous pulls need no login and still work.
    assert.equal((await reg.req('GET', '/v2/public/base/manifests/v1')).status, 200);
  });
});
