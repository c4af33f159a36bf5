// The built-in token issuer (berth.auth.tokenissuer) with auth.token: the whole bearer flow over
// HTTP against one process, scope escalation, anonymous tokens, bad scopes, the OAuth2 password
// grant, and the signing key kept in the storage root across restarts.
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { decodeJwt, decodeProtectedHeader } from 'jose';
import { defaultYaml, startRegistry, type Registry } from '../helpers/registry.js';
import { basic, pushImage, tempDir, writeHtpasswd } from './helpers.js';

type Access = { type: string; name: string; actions: string[] };

function config(htpasswd: string): string {
  return defaultYaml({
    extraYaml: [
      'auth:',
      '  token:',
      '    autoredirect: true',
      '    service: berth-test',
      '    issuer: berth-issuer',
      'berth:',
      '  auth:',
      '    tokenissuer:',
      `      htpasswd: ${htpasswd}`,
      '      expiration: 2m',
      '    groups:',
      '      devs: [dev]',
      '    permissions:',
      '      - repositories: ["**"]',
      '        users: [admin]',
      '        actions: [pull, push, delete]',
      '      - repositories: ["apps/**"]',
      '        groups: [devs]',
      '        actions: [pull]',
      '      - repositories: ["public/*"]',
      '        anonymous: true',
      '',
    ].join('\n'),
  });
}

describe('built-in token issuer', () => {
  const tmp = tempDir('issuer');
  const htpasswd = path.join(tmp.dir, 'htpasswd');
  let reg: Registry;
  let realm = '';

  const token = async (scopes: string[], authorization?: string): Promise<{ status: number; token: string; body: any }> => {
    const q = new URLSearchParams({ service: 'berth-test' });
    for (const s of scopes) q.append('scope', s);
    const res = await reg.req('GET', `/auth/token?${q}`, { headers: authorization ? { Authorization: authorization } : {} });
    const body = res.status === 200 ? res.json() : res.text();
    return { status: res.status, token: res.status === 200 ? body.token : '', body };
  };
  const granted = (t: string) => decodeJwt(t).access as Access[];
  const bearer = (t: string) => ({ Authorization: `Bearer ${t}` });

  before(async () => {
    writeHtpasswd(htpasswd, { admin: 'admin-pw', dev: 'dev-pw' });
    reg = await startRegistry({ yaml: config(htpasswd) });
  });
  after(async () => {
    await reg.stop();
    tmp.cleanup();
  });

  it('runs the bearer flow: challenge, token with Basic credentials, request with the token', async () => {
    const challenge = await reg.req('GET', '/v2/');
    assert.equal(challenge.status, 401);
    const m = /^Bearer realm="([^"]+)",service="berth-test"$/.exec(challenge.header('www-authenticate') ?? '');
    assert.ok(m, challenge.header('www-authenticate'));
    realm = m[1]!;
    assert.equal(realm, `${reg.url}/auth/token`);
    const login = await token([], basic('admin', 'admin-pw'));
    assert.equal(login.status, 200);
    assert.equal(login.body.access_token, login.token);
    assert.equal(login.body.expires_in, 120);
    assert.equal((await reg.req('GET', '/v2/', { headers: bearer(login.token) })).status, 200);

    const push = await token(['repository:apps/web:pull,push'], basic('admin', 'admin-pw'));
    assert.deepEqual(granted(push.token), [{ type: 'repository', name: 'apps/web', actions: ['pull', 'push'] }]);
    assert.equal((await pushImage(reg, 'apps/web', 'v1', bearer(push.token))).status, 201);
    const claims = decodeJwt(push.token);
    assert.equal(claims.iss, 'berth-issuer');
    assert.equal(claims.aud, 'berth-test');
    assert.equal(claims.sub, 'admin');
    assert.equal(decodeProtectedHeader(push.token).alg, 'ES256');
  });

  it('grants only what the user may have when asked for more (no scope escalation)', async () => {
    const asked = await token(['repository:apps/web:pull,push,delete', 'repository:secret/x:pull', 'registry:catalog:*'], basic('dev', 'dev-pw'));
    assert.equal(asked.status, 200);
    assert.deepEqual(granted(asked.token), [
      { type: 'repository', name: 'apps/web', actions: ['pull'] },
      { type: 'registry', name: 'catalog', actions: ['*'] },
    ]);
    const t = bearer(asked.token);
    assert.equal((await reg.req('GET', '/v2/apps/web/manifests/v1', { headers: t })).status, 200);
    const push = await reg.req('POST', '/v2/apps/web/blobs/uploads/', { headers: t });
    assert.equal(push.status, 401);
    assert.match(push.header('www-authenticate') ?? '', /scope="repository:apps\/web:pull,push",error="insufficient_scope"/);
    const star = await token(['repository:apps/web:*'], basic('dev', 'dev-pw'));
    assert.deepEqual(granted(star.token), [{ type: 'repository', name: 'apps/web', actions: ['pull'] }]);
  });

  it('filters the catalog by the token subject\'s permissions', async () => {
    const admin = await token(['repository:public/base:pull,push'], basic('admin', 'admin-pw'));
    assert.equal((await pushImage(reg, 'public/base', 'v1', bearer(admin.token))).status, 201);
    const adminCat = await token(['registry:catalog:*'], basic('admin', 'admin-pw'));
    assert.deepEqual((await reg.req('GET', '/v2/_catalog', { headers: bearer(adminCat.token) })).json().repositories, ['apps/web', 'public/base']);
    const anonCat = await token(['registry:catalog:*']);
    assert.deepEqual((await reg.req('GET', '/v2/_catalog', { headers: bearer(anonCat.token) })).json().repositories, ['public/base']);
  });

  it('gives anonymous callers tokens for public pulls only', async () => {
    const anon = await token(['repository:public/base:pull,push', 'repository:apps/web:pull']);
    assert.equal(anon.status, 200);
    assert.deepEqual(granted(anon.token), [{ type: 'repository', name: 'public/base', actions: ['pull'] }]);
    assert.equal(decodeJwt(anon.token).sub, '');
    assert.equal((await reg.req('GET', '/v2/public/base/manifests/v1', { headers: bearer(anon.token) })).status, 200);
    // Empty Basic credentials, and an empty user and password in the password grant, are anonymous too.
    const empty = await token(['repository:public/base:pull,push', 'repository:apps/web:pull'], 'Basic Og==');
    assert.equal(empty.status, 200);
    assert.deepEqual(granted(empty.token), [{ type: 'repository', name: 'public/base', actions: ['pull'] }]);
    assert.equal(decodeJwt(empty.token).sub, '');
    const form = new URLSearchParams({ grant_type: 'password', username: '', password: '', service: 'berth-test', scope: 'repository:public/base:pull,push' });
    const grant = await reg.req('POST', '/auth/token', { headers: { 'Content-Type': 'application/x-www-form-urlencoded' }, body: form.toString() });
    assert.equal(grant.status, 200);
    assert.deepEqual(granted(grant.json().token), [{ type: 'repository', name: 'public/base', actions: ['pull'] }]);
  });

  it('refuses wrong credentials with 401 and bad scopes or services with 400', async () => {
    const wrong = await token(['repository:apps/web:pull'], basic('dev', 'nope'));
    assert.equal(wrong.status, 401);
    for (const scope of ['repository:../../etc/passwd:pull', 'repository:apps/../secret:pull', 'repository:UPPER/case:pull', 'nonsense', 'repository:a:pu ll!', 'registry:other:*']) {
      const res = await token([scope], basic('admin', 'admin-pw'));
      assert.equal(res.status, 400, scope);
    }
    const svc = await reg.req('GET', '/auth/token?service=elsewhere', { headers: { Authorization: basic('admin', 'admin-pw') } });
    assert.equal(svc.status, 400);
    const bad = await reg.req('GET', '/auth/token', { headers: { Authorization: 'Basic %%%' } });
    assert.equal(bad.status, 401);
    assert.equal((await reg.req('PUT', '/auth/token')).status, 405);
  });

  it('supports the OAuth2 password grant', async () => {
    const form = new URLSearchParams({ grant_type: 'password', username: 'dev', password: 'dev-pw', service: 'berth-test', scope: 'repository:apps/web:pull', client_id: 'test' });
    const res = await reg.req('POST', '/auth/token', { headers: { 'Content-Type': 'application/x-www-form-urlencoded' }, body: form.toString() });
    assert.equal(res.status, 200);
    assert.deepEqual(granted(res.json().access_token), [{ type: 'repository', name: 'apps/web', actions: ['pull'] }]);
    const refresh = await reg.req('POST', '/auth/token', { headers: { 'Content-Type': 'application/x-www-form-urlencoded' }, body: 'grant_type=refresh_token&refresh_token=x' });
    assert.equal(refresh.status, 400);
    const wrong = await reg.req('POST', '/auth/token', { headers: { 'Content-Type': 'application/x-www-form-urlencoded' }, body: 'grant_type=password&username=dev&password=x' });
    assert.equal(wrong.status, 401);
  });

  it('keeps its signing key in the storage root and reuses it after a restart', async () => {
    const keyFile = path.join(reg.root, 'berth/auth/token-signing-key.pem');
    assert.ok(existsSync(keyFile));
    assert.match(readFileSync(keyFile, 'utf8'), /BEGIN PRIVATE KEY/);
    const before = await token(['repository:apps/web:pull'], basic('admin', 'admin-pw'));
    await reg.stop({ keep: true });
    reg = await startRegistry({ yaml: config(htpasswd), base: reg.base });
    // A token from the previous process still verifies: same key.
    assert.equal((await reg.req('GET', '/v2/apps/web/manifests/v1', { headers: bearer(before.token) })).status, 200);
    // And the key file is not in the catalog or anywhere Distribution looks.
    const cat = await token(['registry:catalog:*'], basic('admin', 'admin-pw'));
    assert.deepEqual((await reg.req('GET', '/v2/_catalog', { headers: bearer(cat.token) })).json().repositories, ['apps/web', 'public/base']);
  });
});
