/**
 * Bearer tokens against Berth's own token issuer (auth.token + berth.auth.tokenissuer, its key
 * at a path the test reads): the issuer trims what it is asked for to what the caller may have,
 * and the registry refuses tokens with `alg: none`, HS256 keyed with the issuer's public key (as
 * PEM, DER and JWK), expired, not yet valid, without exp, for another audience or from another
 * issuer, and tokens signed by another key that names the issuer's key or embeds its own; and its
 * POST endpoint takes chunked, oversized, half-sent and aborted forms like the other write routes.
 */
import assert from 'node:assert/strict';
import { createHmac, createPrivateKey, createPublicKey, generateKeyPairSync, type KeyObject } from 'node:crypto';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { Readable } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import { calculateJwkThumbprint, decodeJwt, exportJWK, SignJWT } from 'jose';
import { basic, pushImage, tempDir, writeHtpasswd } from '../auth/helpers.js';
import type { Registry } from '../helpers/registry.js';
import { assertStillServing, sendChunked, sendPartial, startLogged } from './harness.js';

const SERVICE = 'security';
const ISSUER = 'security-issuer';
type Access = { type: string; name: string; actions: string[] };

const enc = (o: object | string) => Buffer.from(typeof o === 'string' ? o : JSON.stringify(o)).toString('base64url');

describe('token issuer and bearer tokens', () => {
  const tmp = tempDir('tokens');
  const keyPath = path.join(tmp.dir, 'signing-key.pem');
  let reg: Registry;
  let privateKey: KeyObject;
  let publicKey: KeyObject;
  let kid = '';

  const issue = async (scopes: string[], authorization?: string): Promise<{ status: number; token: string }> => {
    const q = new URLSearchParams({ service: SERVICE });
    for (const s of scopes) q.append('scope', s);
    const res = await reg.req('GET', `/auth/token?${q}`, { headers: authorization ? { Authorization: authorization } : {} });
    return { status: res.status, token: res.status === 200 ? res.json().token : '' };
  };
  const granted = (token: string) => decodeJwt(token).access as Access[];
  const pull = (token: string) => reg.req('GET', '/v2/apps/web/manifests/v1', { headers: { Authorization: `Bearer ${token}` } });
  const claims = (o: Record<string, unknown> = {}) => {
    const now = Math.floor(Date.now() / 1000);
    return { iss: ISSUER, aud: SERVICE, sub: 'admin', iat: now, nbf: now, exp: now + 300, access: [{ type: 'repository', name: 'apps/web', actions: ['pull'] }], ...o };
  };
  const sign = (payload: Record<string, unknown>, o: { key?: KeyObject; header?: Record<string, unknown> } = {}) =>
    new SignJWT(payload).setProtectedHeader({ alg: 'ES256', kid, typ: 'JWT', ...o.header }).sign(o.key ?? privateKey);
  const hmac = (header: Record<string, unknown>, payload: object, secret: Buffer | string) => {
    const input = `${enc(header)}.${enc(payload)}`;
    return `${input}.${createHmac('sha256', secret).update(input).digest('base64url')}`;
  };

  before(async () => {
    const htpasswd = path.join(tmp.dir, 'htpasswd');
    writeHtpasswd(htpasswd, { admin: 'admin-pw', dev: 'dev-pw' });
    reg = await startLogged({
      extra: [
        'auth:',
        '  token:',
        '    autoredirect: true',
        `    service: ${SERVICE}`,
        `    issuer: ${ISSUER}`,
        'berth:',
        '  auth:',
        '    tokenissuer:',
        `      htpasswd: ${htpasswd}`,
        `      key: ${keyPath}`,
        '    permissions:',
        '      - repositories: ["**"]',
        '        users: [admin]',
        '        actions: [pull, push, delete]',
        '      - repositories: ["apps/**"]',
        '        users: [dev]',
        '        actions: [pull]',
        '      - repositories: ["public/*"]',
        '        anonymous: true',
      ].join('\n'),
    });
    privateKey = createPrivateKey(readFileSync(keyPath));
    publicKey = createPublicKey(privateKey);
    kid = await calculateJwkThumbprint(await exportJWK(publicKey));
    const admin = await issue(['repository:apps/web:pull,push'], basic('admin', 'admin-pw'));
    assert.equal((await pushImage(reg, 'apps/web', 'v1', { Authorization: `Bearer ${admin.token}` })).status, 201);
  });
  after(async () => {
    await reg.stop();
    tmp.cleanup();
  });

  it('trims every requested scope to what the caller may have', async () => {
    const dev = await issue(['repository:apps/web:pull,push,delete', 'repository:apps/web:*', 'repository:secret/x:pull', 'repository:public/base:push', 'registry:catalog:*'], basic('dev', 'dev-pw'));
    assert.equal(dev.status, 200);
    // Without permission rules for the catalog, an authenticated caller may list (what it can pull).
    assert.deepEqual(granted(dev.token), [
      { type: 'repository', name: 'apps/web', actions: ['pull'] },
      { type: 'repository', name: 'apps/web', actions: ['pull'] },
      { type: 'registry', name: 'catalog', actions: ['*'] },
    ]);
    const anonymous = await issue(['repository:apps/web:pull', 'repository:public/base:pull,push,delete']);
    assert.deepEqual(granted(anonymous.token), [{ type: 'repository', name: 'public/base', actions: ['pull'] }]);
    // The OAuth2 grant: several scopes in one space-separated value, trimmed the same way.
    const form = new URLSearchParams({ grant_type: 'password', username: 'dev', password: 'dev-pw', service: SERVICE, scope: 'repository:apps/web:push,pull repository:secret/x:*' });
    const post = await reg.req('POST', '/auth/token', { headers: { 'Content-Type': 'application/x-www-form-urlencoded' }, body: form.toString() });
    assert.equal(post.status, 200);
    assert.deepEqual(granted(post.json().token), [{ type: 'repository', name: 'apps/web', actions: ['pull'] }]);
    // What was trimmed stays refused where it is used.
    const push = await reg.req('POST', '/v2/apps/web/blobs/uploads/', { headers: { Authorization: `Bearer ${dev.token}` } });
    assert.equal(push.status, 401);
    assert.match(push.header('www-authenticate') ?? '', /error="insufficient_scope"/);
    assert.equal((await pull(dev.token)).status, 200);
    // Scopes that name no repository, or one outside the grammar, are refused outright.
    for (const scope of ['repository:apps/../secret:pull', 'repository:%2e%2e/secret:pull', 'repository:apps%2Fweb:pull', 'registry:other:*', 'repository:apps/web:PULL']) {
      assert.equal((await issue([scope], basic('admin', 'admin-pw'))).status, 400, scope);
    }
  });

  it("the issuer's POST with chunked, oversized, half-sent and aborted forms", async () => {
    const form = { 'Content-Type': 'application/x-www-form-urlencoded' };
    const big = await sendChunked(reg, 'POST', '/auth/token', 100 * 1024, form);
    assert.equal(big.status, 413);
    const declared = await sendPartial(reg, 'POST', '/auth/token', { declared: 10 * 1024 * 1024, sent: 100, mode: 'half', headers: form });
    assert.equal(declared.status, 413);
    assert.equal((await sendPartial(reg, 'POST', '/auth/token', { declared: 1000, sent: 500, mode: 'half', headers: form })).status, 400);
    await sendPartial(reg, 'POST', '/auth/token', { declared: 1000, sent: 500, mode: 'abort', headers: form });
    // A chunked form of ordinary size is a form like any other.
    const body = new URLSearchParams({ grant_type: 'password', username: 'dev', password: 'dev-pw', service: SERVICE, scope: 'repository:apps/web:pull' }).toString();
    const ok = await reg.req('POST', '/auth/token', { headers: form, body: Readable.from([Buffer.from(body)]) });
    assert.equal(ok.status, 200);
    await assertStillServing(reg, {}, 401);
  });

  it('a token signed by the issuer for the right audience is accepted (the control case)', async () => {
    assert.equal((await pull(await sign(claims()))).status, 200);
  });

  it('refuses forged, expired and misaddressed tokens with invalid_token', async () => {
    const now = Math.floor(Date.now() / 1000);
    const payload = claims();
    const spki = publicKey.export({ type: 'spki', format: 'pem' }) as string;
    const der = publicKey.export({ type: 'spki', format: 'der' });
    const jwk = JSON.stringify(await exportJWK(publicKey));
    const attacker = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    // An anonymous token the issuer really signed, for public/base only.
    const real = (await issue(['repository:public/base:pull'])).token.split('.');
    const cases: Record<string, string> = {
      'alg none': `${enc({ alg: 'none', typ: 'JWT', kid })}.${enc(payload)}.`,
      'alg None, no kid': `${enc({ alg: 'None', typ: 'JWT' })}.${enc(payload)}.`,
      'alg none with a signature copied from a real token': `${enc({ alg: 'none', kid })}.${enc(payload)}.${(await sign(payload)).split('.')[2]}`,
      'HS256 keyed with the public key (PEM)': hmac({ alg: 'HS256', typ: 'JWT', kid }, payload, spki),
      'HS256 keyed with the public key (PEM, no newline)': hmac({ alg: 'HS256', typ: 'JWT', kid }, payload, spki.trim()),
      'HS256 keyed with the public key (DER)': hmac({ alg: 'HS256', typ: 'JWT', kid }, payload, der),
      'HS256 keyed with the public key (JWK)': hmac({ alg: 'HS256', typ: 'JWT', kid }, payload, jwk),
      'HS256 without kid': hmac({ alg: 'HS256', typ: 'JWT' }, payload, spki),
      expired: await sign(claims({ iat: now - 7200, nbf: now - 7200, exp: now - 3600 })),
      'not yet valid': await sign(claims({ nbf: now + 3600, exp: now + 7200 })),
      'without exp': await sign(claims({ exp: undefined })),
      'another audience': await sign(claims({ aud: 'another-service' })),
      'no audience': await sign(claims({ aud: undefined })),
      'another issuer': await sign(claims({ iss: 'someone-else' })),
      "another key naming the issuer's kid": await sign(payload, { key: attacker.privateKey }),
      'another key embedded as jwk': await sign(payload, { key: attacker.privateKey, header: { kid: undefined, jwk: await exportJWK(attacker.publicKey) } }),
      'signature stripped': (await sign(payload)).split('.').slice(0, 2).join('.') + '.',
      'payload swapped under a real signature': `${real[0]}.${enc(claims({ access: [{ type: 'repository', name: 'apps/web', actions: ['*'] }] }))}.${real[2]}`,
    };
    for (const [name, token] of Object.entries(cases)) {
      const res = await pull(token);
      assert.equal(res.status, 401, name);
      assert.match(res.header('www-authenticate') ?? '', /error="invalid_token"/, name);
    }
    await assertStillServing(reg, {}, 401);
  });
});
