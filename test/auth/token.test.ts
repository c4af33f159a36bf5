// auth.token against the real server with tokens signed in the test (the test is the token
// server): certificate bundle (x5c chains and kid) and JWKS keys, the Bearer challenge, scope
// checks, and every way a token must be refused. Also auth.silly.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createPrivateKey, createPublicKey, generateKeyPairSync, type KeyObject } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { SignJWT, calculateJwkThumbprint, exportJWK } from 'jose';
import type { Registry } from '../helpers/registry.js';
import { pushImage, startWithAuth, tempDir } from './helpers.js';

type AccessClaim = { type: string; name: string; actions: string[] };

function openssl(args: string[], cwd: string): void {
  execFileSync('openssl', args, { cwd, stdio: ['ignore', 'ignore', 'pipe'] });
}

describe('auth.token', () => {
  const tmp = tempDir('token');
  let reg: Registry;
  let rootKey: KeyObject;
  let leafKey: KeyObject;
  let leafChain: string[];
  let jwksKey: KeyObject;
  const otherKey = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey;

  const sign = async (access: AccessClaim[], o: { key?: KeyObject; alg?: string; header?: Record<string, unknown>; iss?: string; aud?: string | string[]; exp?: number; nbf?: number; kid?: string } = {}) => {
    const now = Math.floor(Date.now() / 1000);
    const key = o.key ?? rootKey;
    const header = o.header ?? { kid: o.kid ?? (await calculateJwkThumbprint(createPublicKey(key))) };
    return new SignJWT({ access })
      .setProtectedHeader({ alg: o.alg ?? 'ES256', typ: 'JWT', ...header })
      .setIssuer(o.iss ?? 'test-issuer')
      .setSubject('tester')
      .setAudience(o.aud ?? 'test-service')
      .setIssuedAt(now)
      .setNotBefore(o.nbf ?? now)
      .setExpirationTime(o.exp ?? now + 300)
      .sign(key);
  };
  const bearer = (token: string) => ({ Authorization: `Bearer ${token}` });
  const pullPush = (name: string): AccessClaim[] => [{ type: 'repository', name, actions: ['pull', 'push'] }];

  before(async () => {
    const d = tmp.dir;
    // A root CA (bundle) and a leaf signed by it (sent as x5c), both EC P-256.
    openssl(['ecparam', '-name', 'prime256v1', '-genkey', '-noout', '-out', 'root.key'], d);
    openssl(['req', '-x509', '-new', '-key', 'root.key', '-subj', '/CN=token root', '-days', '2', '-out', 'root.pem'], d);
    openssl(['ecparam', '-name', 'prime256v1', '-genkey', '-noout', '-out', 'leaf.key'], d);
    openssl(['req', '-new', '-key', 'leaf.key', '-subj', '/CN=token leaf', '-out', 'leaf.csr'], d);
    openssl(['x509', '-req', '-in', 'leaf.csr', '-CA', 'root.pem', '-CAkey', 'root.key', '-CAcreateserial', '-days', '2', '-out', 'leaf.pem'], d);
    rootKey = createPrivateKey(readFileSync(path.join(d, 'root.key')));
    leafKey = createPrivateKey(readFileSync(path.join(d, 'leaf.key')));
    leafChain = [readFileSync(path.join(d, 'leaf.pem'), 'utf8').replace(/-----[^-]+-----|\s/g, '')];
    jwksKey = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey;
    const jwk = { ...(await exportJWK(createPublicKey(jwksKey))), kid: 'jwks-key-1', alg: 'RS256' };
    writeFileSync(path.join(d, 'jwks.json'), JSON.stringify({ keys: [jwk] }));
    reg = await startWithAuth([
      'auth:',
      '  token:',
      '    realm: https://auth.example.test/token',
      '    service: test-service',
      '    issuer: test-issuer',
      `    rootcertbundle: ${path.join(d, 'root.pem')}`,
      `    jwks: ${path.join(d, 'jwks.json')}`,
      '    signingalgorithms: [ES256, RS256]',
      '',
    ].join('\n'));
    assert.equal((await pushImage(reg, 'lib/app', 'v1', bearer(await sign(pullPush('lib/app'))))).status, 201);
  });
  after(async () => {
    await reg.stop();
    tmp.cleanup();
  });

  it('answers without a token with 401 and the Bearer challenge clients expect', async () => {
    const base = await reg.req('GET', '/v2/');
    assert.equal(base.status, 401);
    assert.equal(base.header('www-authenticate'), 'Bearer realm="https://auth.example.test/token",service="test-service"');
    const pull = await reg.req('GET', '/v2/lib/app/manifests/v1');
    assert.equal(pull.header('www-authenticate'), 'Bearer realm="https://auth.example.test/token",service="test-service",scope="repository:lib/app:pull"');
    const push = await reg.req('POST', '/v2/lib/app/blobs/uploads/');
    assert.equal(push.header('www-authenticate'), 'Bearer realm="https://auth.example.test/token",service="test-service",scope="repository:lib/app:pull,push"');
    const cat = await reg.req('GET', '/v2/_catalog');
    assert.match(cat.header('www-authenticate') ?? '', /scope="registry:catalog:\*"$/);
  });

  it('accepts tokens by kid (certificate thumbprint), x5c chain, and JWKS key', async () => {
    const pull = [{ type: 'repository', name: 'lib/app', actions: ['pull'] }];
    for (const token of [
      await sign(pull),
      await sign(pull, { key: leafKey, header: { x5c: leafChain } }),
      await sign(pull, { key: jwksKey, alg: 'RS256', kid: 'jwks-key-1' }),
      await sign(pull, { aud: ['other', 'test-service'] }),
    ]) {
      assert.equal((await reg.req('GET', '/v2/lib/app/manifests/v1', { headers: bearer(token) })).status, 200);
    }
  });

  it('answers a token without the needed scope with 401 insufficient_scope', async () => {
    const token = await sign([{ type: 'repository', name: 'lib/app', actions: ['pull'] }]);
    const push = await reg.req('POST', '/v2/lib/app/blobs/uploads/', { headers: bearer(token) });
    assert.equal(push.status, 401);
    assert.equal(push.header('www-authenticate'), 'Bearer realm="https://auth.example.test/token",service="test-service",scope="repository:lib/app:pull,push",error="insufficient_scope"');
    const del = await reg.req('DELETE', '/v2/lib/app/manifests/v1', { headers: bearer(token) });
    assert.equal(del.status, 401);
    assert.match(del.header('www-authenticate') ?? '', /scope="repository:lib\/app:delete",error="insufficient_scope"/);
    const other = await reg.req('GET', '/v2/lib/other/tags/list', { headers: bearer(token) });
    assert.equal(other.status, 401);
    // `*` grants every action on its resource.
    const star = await sign([{ type: 'repository', name: 'lib/app', actions: ['*'] }]);
    assert.equal((await reg.req('GET', '/v2/lib/app/manifests/v1', { headers: bearer(star) })).status, 200);
    const cat = await sign([{ type: 'registry', name: 'catalog', actions: ['*'] }]);
    assert.deepEqual((await reg.req('GET', '/v2/_catalog', { headers: bearer(cat) })).json().repositories, ['lib/app']);
  });

  it('refuses expired, not-yet-valid, wrongly signed, wrong-issuer and wrong-audience tokens', async () => {
    const now = Math.floor(Date.now() / 1000);
    const pull = pullPush('lib/app');
    const cases: Record<string, string> = {
      expired: await sign(pull, { exp: now - 3600, nbf: now - 7200 }),
      'not yet valid': await sign(pull, { nbf: now + 3600, exp: now + 7200 }),
      'signed by an unknown key': await sign(pull, { key: otherKey }),
      'unknown key claiming a trusted kid': await sign(pull, { key: otherKey, kid: await calculateJwkThumbprint(createPublicKey(rootKey)) }),
      'x5c not from the bundle': await sign(pull, { key: otherKey, header: { x5c: [Buffer.from('not a cert').toString('base64')] } }),
      'wrong issuer': await sign(pull, { iss: 'someone-else' }),
      'wrong audience': await sign(pull, { aud: 'another-service' }),
    };
    for (const [name, token] of Object.entries(cases)) {
      const res = await reg.req('GET', '/v2/lib/app/manifests/v1', { headers: bearer(token) });
      assert.equal(res.status, 401, name);
      assert.match(res.header('www-authenticate') ?? '', /error="invalid_token"$/, name);
    }
  });

  it('refuses alg none and algorithms not in signingalgorithms', async () => {
    const payload = { iss: 'test-issuer', aud: 'test-service', sub: 'x', exp: Math.floor(Date.now() / 1000) + 300, access: pullPush('lib/app') };
    const enc = (o: object) => Buffer.from(JSON.stringify(o)).toString('base64url');
    const none = `${enc({ alg: 'none', typ: 'JWT' })}.${enc(payload)}.`;
    assert.equal((await reg.req('GET', '/v2/lib/app/manifests/v1', { headers: bearer(none) })).status, 401);
    const es384Key = generateKeyPairSync('ec', { namedCurve: 'P-384' }).privateKey;
    const es384 = await sign(pullPush('lib/app'), { key: es384Key, alg: 'ES384' });
    assert.equal((await reg.req('GET', '/v2/lib/app/manifests/v1', { headers: bearer(es384) })).status, 401);
    // A symmetric algorithm with the public key as the secret (the classic confusion attack).
    const hs = `${enc({ alg: 'HS256', kid: await calculateJwkThumbprint(createPublicKey(rootKey)) })}.${enc(payload)}.${Buffer.from('sig').toString('base64url')}`;
    assert.equal((await reg.req('GET', '/v2/lib/app/manifests/v1', { headers: bearer(hs) })).status, 401);
  });

  it('answers malformed bearer tokens with 401, never 5xx', async () => {
    for (const value of ['Bearer', 'Bearer ', 'Bearer a.b', 'Bearer a.b.c', 'Bearer ....', `Bearer ${'x'.repeat(12000)}`, 'Bearer {"alg":"none"}', 'Basic dXNlcjpwYXNz', 'Bearer e30.e30.e30']) {
      const res = await reg.req('GET', '/v2/lib/app/manifests/v1', { headers: { Authorization: value } });
      assert.equal(res.status, 401, value.slice(0, 40));
      assert.match(res.header('www-authenticate') ?? '', /^Bearer realm=/);
    }
  });
});

describe('auth.silly', () => {
  let reg: Registry;
  before(async () => {
    reg = await startWithAuth('auth:\n  silly:\n    realm: https://silly.example.test/auth\n    service: silly-service\n');
  });
  after(() => reg.stop());

  it('challenges requests without an Authorization header and lets any other in', async () => {
    const res = await reg.req('GET', '/v2/lib/x/tags/list');
    assert.equal(res.status, 401);
    assert.equal(res.header('www-authenticate'), 'Bearer realm="https://silly.example.test/auth",service="silly-service",scope="repository:lib/x:pull"');
    assert.equal((await reg.req('GET', '/v2/', { headers: { Authorization: 'anything' } })).status, 200);
    assert.equal((await pushImage(reg, 'lib/x', 'v1', { Authorization: 'Bearer whatever' })).status, 201);
  });
});
