// Client auth against real registries: Basic (htpasswd) on Berth and Distribution 2.8.2, Bearer
// through Berth's token issuer (tokens cached per scope, fetched again once expired), credentials
// from Docker's config.json, containers' auth.json and a docker-credential helper (a small script
// speaking the helper protocol), and TLS (a CA, a client certificate, skip-verify, plain http
// only for loopback hosts by default).
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Registry } from '../../src/client/remote/registry.js';
import { authFileStore, defaultAuthFiles, defaultCredentialStore, staticCredentials } from '../../src/client/auth/credentials.js';
import { NetworkError, UnauthorizedError, DeniedError } from '../../src/client/errors.js';
import type { TokenEvent } from '../../src/client/auth/client.js';
import { Transport } from '../../src/client/http/transport.js';
import { writeHtpasswd } from '../auth/helpers.js';
import { defaultYaml, startRegistry } from '../helpers/registry.js';
import { image, pushAll, startTestRegistry, uniqueRepo, type TestRegistry } from './fixtures.js';

const tmp = mkdtempSync(path.join(os.tmpdir(), 'berth-client-auth-'));
after(() => rmSync(tmp, { recursive: true, force: true }));
const htpasswd = path.join(tmp, 'htpasswd');
writeHtpasswd(htpasswd, { alice: 'alice-pw', reader: 'reader-pw' });

const PERMISSIONS = [
  'berth:',
  '  auth:',
  '    permissions:',
  '      - repositories: ["**"]',
  '        users: [alice]',
  '        actions: [pull, push, delete]',
  '      - repositories: ["**"]',
  '        users: [reader]',
  '        actions: [pull]',
];

for (const kind of ['berth', 'distribution'] as const) {
  describe(`Basic auth (htpasswd) against ${kind}`, () => {
    let reg: TestRegistry;
    before(async () => {
      const lines = ['auth:', '  htpasswd:', '    realm: berth-client', `    path: ${htpasswd}`, ...(kind === 'berth' ? PERMISSIONS : [])];
      reg = await startTestRegistry(kind, lines.join('\n'));
    });
    after(() => reg?.stop());

    it('pushes and pulls with the right credentials', async () => {
      const repo = new Registry(reg.host, { credentials: { username: 'alice', password: 'alice-pw' } }).repository(uniqueRepo('auth'));
      const img = image();
      await pushAll(repo, img.all);
      assert.deepEqual(await repo.resolve(img.manifest.desc.digest.value), img.manifest.desc);
    });

    it('a wrong password or none is an UnauthorizedError naming the registry and request', async () => {
      for (const credentials of [{ username: 'alice', password: 'wrong' }, null]) {
        const r = new Registry(reg.host, { credentials }).repository('auth/x');
        await assert.rejects(r.statBlob(`sha256:${'1'.repeat(64)}`), (err: unknown) => {
          assert.ok(err instanceof UnauthorizedError, String(err));
          assert.equal(err.code, 'UNAUTHORIZED');
          assert.equal(err.registry, reg.host);
          assert.match(err.request ?? '', /^HEAD http:\/\/.*\/v2\/auth\/x\/blobs\/sha256:1+$/);
          return true;
        });
      }
    });

    if (kind === 'berth') {
      it('a user without push permission gets DeniedError (403 DENIED)', async () => {
        const r = new Registry(reg.host, { credentials: { username: 'reader', password: 'reader-pw' } }).repository('auth/denied');
        await assert.rejects(r.uploadBlob(Buffer.from('x')), (err: unknown) => err instanceof DeniedError && err.code === 'DENIED' && err.status === 403);
      });
    }
  });
}

describe('Bearer auth through Berth\'s token issuer', () => {
  let reg: Awaited<ReturnType<typeof startRegistry>>;
  let host = '';
  before(async () => {
    const extra = ['auth:', '  token:', '    autoredirect: true', '    service: berth-client', '    issuer: berth', ...PERMISSIONS, '    tokenissuer:', `      htpasswd: ${htpasswd}`].join('\n');
    reg = await startRegistry({ yaml: defaultYaml({ extraYaml: extra }) });
    host = new URL(reg.url).host;
  });
  after(() => reg?.stop());

  it('fetches a token per scope, reuses it until it expires, then fetches a new one', async () => {
    const events: TokenEvent[] = [];
    let clock = Date.now();
    const registry = new Registry(host, { credentials: { username: 'alice', password: 'alice-pw' }, onToken: (e) => events.push(e), now: () => clock });
    const repo = registry.repository(uniqueRepo('tok'));
    const img = image();
    await pushAll(repo, img.all);
    const pushTokens = events.filter((e) => e.scopes.join(' ') === `repository:${repo.repository}:pull,push`).length;
    assert.equal(pushTokens, 1, 'one push token for every upload and manifest of the image');
    events.length = 0;
    await repo.resolve(img.manifest.desc.digest.value);
    await repo.resolve(img.manifest.desc.digest.value);
    assert.deepEqual(events.map((e) => e.scopes), [[`repository:${repo.repository}:pull`]]);
    assert.equal(events[0]!.expiresInSeconds, 300);
    clock += 301_000; // past the token's 5 minutes
    await repo.resolve(img.manifest.desc.digest.value);
    assert.equal(events.length, 2, 'an expired token is fetched again');
  });

  it('a pull-only user cannot push: the token lacks the scope', async () => {
    const r = new Registry(host, { credentials: { username: 'reader', password: 'reader-pw' } }).repository('tok/ro');
    await assert.rejects(r.uploadBlob(Buffer.from('x')), (err: unknown) => err instanceof UnauthorizedError && err.code === 'UNAUTHORIZED');
  });

  it('wrong credentials: the token server\'s refusal is an UnauthorizedError naming it', async () => {
    const r = new Registry(host, { credentials: { username: 'alice', password: 'nope' } }).repository('tok/x');
    await assert.rejects(r.resolve('latest'), (err: unknown) => {
      assert.ok(err instanceof UnauthorizedError, String(err));
      assert.match(err.message, /token server refused the credentials/);
      assert.match(err.request ?? '', /^GET http:\/\/.*\/auth\/token$/);
      return true;
    });
  });

  it('takes credentials from the files docker and podman write, and from a credential helper', async () => {
    const home = path.join(tmp, 'home');
    const dockerDir = path.join(tmp, 'docker');
    const bin = path.join(tmp, 'bin');
    for (const d of [home, dockerDir, bin]) mkdirSync(d, { recursive: true });
    const b64 = (s: string) => Buffer.from(s).toString('base64');
    const env = { HOME: home, DOCKER_CONFIG: dockerDir, REGISTRY_AUTH_FILE: path.join(tmp, 'auth.json'), PATH: `${bin}:${process.env.PATH}` };
    assert.deepEqual(defaultAuthFiles(env), [env.REGISTRY_AUTH_FILE, path.join(home, '.config/containers/auth.json'), path.join(dockerDir, 'config.json')]);

    // Docker config: the host's entry.
    writeFileSync(path.join(dockerDir, 'config.json'), JSON.stringify({ auths: { [`http://${host}/v1/`]: { auth: b64('alice:alice-pw') } } }));
    assert.deepEqual(await defaultCredentialStore(env).get(host), { username: 'alice', password: 'alice-pw' });
    const repo = new Registry(host, { credentials: defaultCredentialStore(env) }).repository(uniqueRepo('files'));
    const img = image();
    await pushAll(repo, img.all);

    // containers' auth.json comes first, and a repository entry beats the host entry.
    writeFileSync(env.REGISTRY_AUTH_FILE, JSON.stringify({ auths: { [host]: { auth: b64('reader:reader-pw') }, [`${host}/team`]: { auth: b64('alice:team-pw') } } }));
    assert.deepEqual(await defaultCredentialStore(env).get(host, 'other/app'), { username: 'reader', password: 'reader-pw' });
    assert.deepEqual(await defaultCredentialStore(env).get(host, 'team/app'), { username: 'alice', password: 'team-pw' });

    // A credential helper named by credHelpers, speaking the docker-credential protocol.
    const log = path.join(tmp, 'helper.log');
    const helper = path.join(bin, 'docker-credential-berthtest');
    writeFileSync(helper, [
      '#!/bin/sh',
      'read -r server',
      `echo "$1 $server" >> ${log}`,
      `if [ "$server" = "${host}" ]; then printf '{"ServerURL":"%s","Username":"alice","Secret":"alice-pw"}' "$server"; exit 0; fi`,
      'echo "credentials not found in native keychain"; exit 1',
      '',
    ].join('\n'));
    chmodSync(helper, 0o755);
    rmSync(env.REGISTRY_AUTH_FILE);
    writeFileSync(path.join(dockerDir, 'config.json'), JSON.stringify({ credHelpers: { [host]: 'berthtest' }, credsStore: 'berthtest' }));
    const viaHelper = new Registry(host, { credentials: defaultCredentialStore(env) }).repository(repo.repository);
    assert.deepEqual(await viaHelper.resolve(img.manifest.desc.digest.value), img.manifest.desc);
    assert.match(readFileSync(log, 'utf8'), new RegExp(`^get ${host.replace(/\./g, '\\.')}$`, 'm'));
    // credsStore for a host without an entry: the helper says "not found", which means none.
    assert.equal(await defaultCredentialStore(env).get('other.example:5000'), undefined);
    assert.match(readFileSync(log, 'utf8'), /^get other\.example:5000$/m);
    writeFileSync(path.join(dockerDir, 'config.json'), '{not json');
    await assert.rejects(authFileStore(path.join(dockerDir, 'config.json')).get(host), /cannot read credentials from .*config\.json/);
    assert.deepEqual(await staticCredentials({ [host]: { identityToken: 't' } }).get(host), { identityToken: 't' });
  });
});

function openssl(args: string[], cwd: string): void {
  execFileSync('openssl', args, { cwd, stdio: ['ignore', 'ignore', 'pipe'] });
}

describe('TLS', () => {
  const dir = path.join(tmp, 'pki');
  let reg: Awaited<ReturnType<typeof startRegistry>>;
  let host = '';
  before(async () => {
    mkdirSync(dir, { recursive: true });
    const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
    openssl(['req', '-x509', ...ec, '-keyout', 'ca.key', '-subj', '/CN=berth client test CA', '-days', '2', '-out', 'ca.crt'], dir);
    writeFileSync(path.join(dir, 'server.ext'), 'subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n');
    writeFileSync(path.join(dir, 'client.ext'), 'extendedKeyUsage=clientAuth\n');
    for (const name of ['server', 'client']) {
      openssl(['req', ...ec, '-keyout', `${name}.key`, '-subj', `/CN=${name}`, '-out', `${name}.csr`], dir);
      openssl(['x509', '-req', '-in', `${name}.csr`, '-CA', 'ca.crt', '-CAkey', 'ca.key', '-CAcreateserial', '-days', '2', '-extfile', `${name}.ext`, '-out', `${name}.crt`], dir);
    }
    const tls = ['  tls:', `    certificate: ${dir}/server.crt`, `    key: ${dir}/server.key`, '    clientcas:', `      - ${dir}/ca.crt`].join('\n');
    reg = await startRegistry({ yaml: defaultYaml().replace('http:\n  addr: {{addr}}', `http:\n  addr: {{addr}}\n${tls}`) });
    host = new URL(reg.url).host;
  });
  after(() => reg?.stop());

  const file = (n: string) => readFileSync(path.join(dir, n));

  it('uses https when told, with the CA and client certificate given', async () => {
    const r = new Registry(host, { plainHttp: false, credentials: null, tls: { ca: file('ca.crt'), cert: file('client.crt'), key: file('client.key') } });
    assert.equal(r.base, `https://${host}`);
    await r.ping();
  });

  it('fails with a NetworkError without the CA or without the client certificate, and connects when told to skip verification', async () => {
    const retry = { attempts: 1 };
    await assert.rejects(new Registry(host, { plainHttp: false, credentials: null, retry, tls: { cert: file('client.crt'), key: file('client.key') } }).ping(), NetworkError);
    await assert.rejects(new Registry(host, { plainHttp: false, credentials: null, retry, tls: { ca: file('ca.crt') } }).ping(), NetworkError);
    await new Registry(host, { plainHttp: false, credentials: null, tls: { insecureSkipVerify: true, cert: file('client.crt'), key: file('client.key') } }).ping();
  });

  it('chooses plain http for loopback hosts only, unless told', () => {
    const t = new Transport();
    assert.equal(t.baseUrl('127.0.0.1:5000'), 'http://127.0.0.1:5000');
    assert.equal(t.baseUrl('localhost'), 'http://localhost');
    assert.equal(t.baseUrl('[::1]:5000'), 'http://[::1]:5000');
    assert.equal(t.baseUrl('registry.example.com'), 'https://registry.example.com');
    assert.equal(new Transport({ plainHttp: ['registry.lan:5000'] }).baseUrl('registry.lan:5000'), 'http://registry.lan:5000');
    assert.equal(new Transport({ plainHttp: true }).baseUrl('example.com'), 'http://example.com');
    assert.equal(new Transport({ plainHttp: false }).baseUrl('127.0.0.1'), 'https://127.0.0.1');
  });
});
