// TLS: mutual TLS with a CA, server and client certificates made here with openssl; a client
// without a certificate (or with one from another CA) is refused at the handshake; minimumtls;
// Go-named cipher suites; skopeo with --cert-dir against the mutual-TLS registry.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { copyFileSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import type { IncomingMessage } from 'node:http';
import https from 'node:https';
import http2 from 'node:http2';
import { createHash } from 'node:crypto';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Workspace, requireTools } from '../clients/harness.js';
import { defaultYaml, startRegistry, type Registry } from '../helpers/registry.js';
import { pushImage, tempDir } from './helpers.js';
import { h2connect, h2request } from '../helpers/http2.js';

function openssl(args: string[], cwd: string): void {
  execFileSync('openssl', args, { cwd, stdio: ['ignore', 'ignore', 'pipe'] });
}

/** A CA and a certificate it signs (EC P-256), with extensions for a server or a client. */
function makePki(dir: string): void {
  openssl(['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', 'ca.key', '-subj', '/CN=berth test CA', '-days', '2', '-out', 'ca.crt'], dir);
  openssl(['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', 'other-ca.key', '-subj', '/CN=other CA', '-days', '2', '-out', 'other-ca.crt'], dir);
  writeFileSync(path.join(dir, 'server.ext'), 'subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n');
  writeFileSync(path.join(dir, 'client.ext'), 'extendedKeyUsage=clientAuth\n');
  for (const [name, ca] of [['server', 'ca'], ['client', 'ca'], ['rogue', 'other-ca']] as const) {
    openssl(['req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', `${name}.key`, '-subj', `/CN=${name}`, '-out', `${name}.csr`], dir);
    const ext = name === 'server' ? 'server.ext' : 'client.ext';
    openssl(['x509', '-req', '-in', `${name}.csr`, '-CA', `${ca}.crt`, '-CAkey', `${ca}.key`, '-CAcreateserial', '-days', '2', '-extfile', ext, '-out', `${name}.crt`], dir);
  }
}

type TlsVersion = 'TLSv1' | 'TLSv1.1' | 'TLSv1.2' | 'TLSv1.3';

/** GET /v2/; `maxVersion` below 1.2 also lowers this client's OpenSSL security level, which refuses them otherwise. */
function get(url: string, o: { ca: Buffer; cert?: Buffer; key?: Buffer; maxVersion?: TlsVersion; minVersion?: TlsVersion }): Promise<number> {
  const legacy = o.maxVersion === 'TLSv1' || o.maxVersion === 'TLSv1.1';
  return new Promise((resolve, reject) => {
    const req = https.get(`${url}/v2/`, { ca: o.ca, cert: o.cert, key: o.key, maxVersion: o.maxVersion, minVersion: o.minVersion, ...(legacy ? { ciphers: 'DEFAULT:@SECLEVEL=0' } : {}), agent: false }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
    });
    req.on('error', reject);
  });
}

describe('TLS', () => {
  const tmp = tempDir('tls');
  const d = tmp.dir;
  const file = (n: string) => readFileSync(path.join(d, n));
  let mtls: Registry;
  let tls13: Registry;

  before(async () => {
    makePki(d);
    mtls = await startRegistry({
      yaml: defaultYaml({ extraYaml: '' }).replace('http:\n', [
        'http:',
        '  tls:',
        `    certificate: ${path.join(d, 'server.crt')}`,
        `    key: ${path.join(d, 'server.key')}`,
        '    clientcas:',
        `      - ${path.join(d, 'ca.crt')}`,
        '    ciphersuites:',
        '      - TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256',
        '      - TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384',
        '',
      ].join('\n')),
    });
    tls13 = await startRegistry({
      yaml: defaultYaml({ extraYaml: '' }).replace('http:\n', `http:\n  tls:\n    certificate: ${path.join(d, 'server.crt')}\n    key: ${path.join(d, 'server.key')}\n    minimumtls: tls1.3\n`),
    });
  });
  after(async () => {
    await mtls?.stop();
    await tls13?.stop();
    tmp.cleanup();
  });

  it('serves HTTPS and accepts a client certificate signed by clientcas', async () => {
    assert.match(mtls.url, /^https:/);
    assert.equal(await get(mtls.url, { ca: file('ca.crt'), cert: file('client.crt'), key: file('client.key') }), 200);
    // TLS 1.2 with the configured (Go-named) suites works too.
    assert.equal(await get(mtls.url, { ca: file('ca.crt'), cert: file('client.crt'), key: file('client.key'), maxVersion: 'TLSv1.2' }), 200);
  });

  it('refuses a client without a certificate or with one from another CA', async () => {
    await assert.rejects(get(mtls.url, { ca: file('ca.crt') }));
    await assert.rejects(get(mtls.url, { ca: file('ca.crt'), cert: file('rogue.crt'), key: file('rogue.key') }));
  });

  it('honours minimumtls', async () => {
    assert.equal(await get(tls13.url, { ca: file('ca.crt') }), 200);
    await assert.rejects(get(tls13.url, { ca: file('ca.crt'), maxVersion: 'TLSv1.2' }));
    // the default, tls1.2, refuses older clients
    await assert.rejects(get(mtls.url, { ca: file('ca.crt'), cert: file('client.crt'), key: file('client.key'), maxVersion: 'TLSv1.1' }));
  });

  it('minimumtls tls1.0 and tls1.1 let such clients in (OpenSSL would refuse them at its default security level)', async () => {
    for (const [setting, versions, refused] of [['tls1.0', ['TLSv1', 'TLSv1.1', 'TLSv1.2', 'TLSv1.3'], []], ['tls1.1', ['TLSv1.1', 'TLSv1.2'], ['TLSv1']]] as const) {
      for (const suites of [[], ['TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA', 'TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256']]) {
        const yaml = defaultYaml({ extraYaml: '' }).replace('http:\n', [
          'http:',
          '  tls:',
          `    certificate: ${path.join(d, 'server.crt')}`,
          `    key: ${path.join(d, 'server.key')}`,
          `    minimumtls: ${setting}`,
          ...(suites.length ? ['    ciphersuites:', ...suites.map((s) => `      - ${s}`)] : []),
          '',
        ].join('\n'));
        const old = await startRegistry({ yaml });
        try {
          for (const v of versions) assert.equal(await get(old.url, { ca: file('ca.crt'), minVersion: v, maxVersion: v }), 200, `${setting} ${suites.join(',')}: ${v}`);
          for (const v of refused) await assert.rejects(get(old.url, { ca: file('ca.crt'), minVersion: v, maxVersion: v }), `${setting}: ${v} refused`);
        } finally {
          await old.stop();
        }
      }
    }
  });

  it('speaks HTTP/2 to clients that negotiate it: pings, pushes and pulls a blob, pushes and reads a manifest', async () => {
    const session = await h2connect(tls13.url, { ca: file('ca.crt') });
    try {
      assert.equal(session.alpnProtocol, 'h2');
      const h2 = (headers: http2.OutgoingHttpHeaders, body?: Buffer) => h2request(session, headers, body);
      const base = await h2({ ':path': '/v2/' });
      assert.equal(base.status, 200);
      assert.equal(base.headers['docker-distribution-api-version'], 'registry/2.0');

      const blob = Buffer.alloc(3 * 1024 * 1024 + 7, 'h2');
      const digest = `sha256:${createHash('sha256').update(blob).digest('hex')}`;
      const pushed = await h2({ ':method': 'POST', ':path': `/v2/h2/app/blobs/uploads/?digest=${digest}`, 'content-length': blob.length }, blob);
      assert.equal(pushed.status, 201);
      assert.match(String(pushed.headers.location), new RegExp(`^https://127\\.0\\.0\\.1:\\d+/v2/h2/app/blobs/${digest}$`));
      const pulled = await h2({ ':path': `/v2/h2/app/blobs/${digest}` });
      assert.equal(pulled.status, 200);
      assert.equal(pulled.headers['docker-content-digest'], digest);
      assert.ok(pulled.body.equals(blob));

      const config = Buffer.from('{}');
      const configDigest = `sha256:${createHash('sha256').update(config).digest('hex')}`;
      assert.equal((await h2({ ':method': 'POST', ':path': `/v2/h2/app/blobs/uploads/?digest=${configDigest}`, 'content-length': 2 }, config)).status, 201);
      const manifest = Buffer.from(JSON.stringify({
        schemaVersion: 2,
        mediaType: 'application/vnd.oci.image.manifest.v1+json',
        config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: configDigest, size: 2 },
        layers: [{ mediaType: 'application/vnd.oci.image.layer.v1.tar', digest, size: blob.length }],
      }));
      const put = await h2({ ':method': 'PUT', ':path': '/v2/h2/app/manifests/v1', 'content-type': 'application/vnd.oci.image.manifest.v1+json' }, manifest);
      assert.equal(put.status, 201);
      const got = await h2({ ':path': '/v2/h2/app/manifests/v1' });
      assert.equal(got.status, 200);
      assert.ok(got.body.equals(manifest));
      // An oversized manifest is refused without the HTTP/1-only Connection header breaking the stream.
      const huge = await h2({ ':method': 'PUT', ':path': '/v2/h2/app/manifests/big', 'content-type': 'application/vnd.oci.image.manifest.v1+json', 'content-length': 5 * 1024 * 1024 }, Buffer.alloc(5 * 1024 * 1024, ' '));
      assert.equal(huge.status, 413);
    } finally {
      session.close();
    }
    // HTTP/1.1 clients are still served by the same listener, with the headers every answer carries.
    assert.equal(await get(tls13.url, { ca: file('ca.crt') }), 200);
    const h1 = await new Promise<IncomingMessage>((resolve, reject) => {
      https.get(`${tls13.url}/v2/`, { ca: file('ca.crt'), agent: false, headers: { 'X-Request-Id': 'over-h1' } }, (res) => resolve(res.resume())).on('error', reject);
    });
    assert.equal(h1.httpVersion, '1.1');
    assert.equal(h1.headers['docker-distribution-api-version'], 'registry/2.0');
    assert.equal(h1.headers['x-request-id'], 'over-h1');
  });

  it('offers only HTTP/1.1 when http.http2.disabled', async () => {
    const h1 = await startRegistry({
      yaml: defaultYaml({ extraYaml: '' }).replace('http:\n', `http:\n  http2:\n    disabled: true\n  tls:\n    certificate: ${path.join(d, 'server.crt')}\n    key: ${path.join(d, 'server.key')}\n`),
    });
    try {
      const session = http2.connect(h1.url, { ca: file('ca.crt') });
      await assert.rejects(new Promise((resolve, reject) => session.once('connect', resolve).once('error', reject)));
      session.destroy();
      assert.equal(await get(h1.url, { ca: file('ca.crt') }), 200);
    } finally {
      await h1.stop();
    }
  });

  it('skopeo pushes and lists tags over mutual TLS with --cert-dir', async () => {
    requireTools('skopeo');
    const ws = new Workspace('auth-tls');
    try {
      const certs = ws.path('certs');
      mkdirSync(certs);
      copyFileSync(path.join(d, 'ca.crt'), path.join(certs, 'ca.crt'));
      copyFileSync(path.join(d, 'client.crt'), path.join(certs, 'client.cert'));
      copyFileSync(path.join(d, 'client.key'), path.join(certs, 'client.key'));
      // Content for skopeo to copy: pushed over HTTPS by the test's own client first.
      const agent = new https.Agent({ ca: file('ca.crt'), cert: file('client.crt'), key: file('client.key') });
      const viaTls = { ...mtls, req: tlsReq(mtls.url, agent) } as Registry;
      assert.equal((await pushImage(viaTls, 'tls/src', 'v1', {})).status, 201);
      const host = new URL(mtls.url).host;
      await ws.client('skopeo', ['--policy', ws.policyFile, 'copy', '--src-cert-dir', certs, '--dest-cert-dir', certs, `docker://${host}/tls/src:v1`, `docker://${host}/tls/dst:v1`]);
      const { stdout } = await ws.client('skopeo', ['list-tags', '--cert-dir', certs, `docker://${host}/tls/dst`]);
      assert.deepEqual(JSON.parse(stdout).Tags, ['v1']);
      // Without the client certificate the same client is refused.
      await assert.rejects(ws.client('skopeo', ['list-tags', '--cert-dir', ws.path('nowhere'), `docker://${host}/tls/dst`]));
      agent.destroy();
    } finally {
      ws.cleanup();
    }
  });
});

/** Registry.req over HTTPS with a client certificate (the shared helper speaks plain HTTP). */
function tlsReq(base: string, agent: https.Agent): Registry['req'] {
  return (method, p, opts = {}) =>
    new Promise((resolve, reject) => {
      const body = opts.body;
      const headers: Record<string, string | number> = { ...(opts.headers ?? {}) };
      if (typeof body === 'string' || Buffer.isBuffer(body)) headers['Content-Length'] = Buffer.byteLength(body);
      else headers['Content-Length'] = 0;
      const req = https.request(`${base}${p}`, { method, headers, agent }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          const buf = Buffer.concat(chunks);
          resolve({
            status: res.statusCode ?? 0,
            headers: res.headers,
            body: buf,
            header: (n: string) => {
              const v = res.headers[n.toLowerCase()];
              return Array.isArray(v) ? v.join(', ') : v;
            },
            text: () => buf.toString('utf8'),
            json: () => JSON.parse(buf.toString('utf8')),
          });
        });
      });
      req.on('error', reject);
      req.end(typeof body === 'string' || Buffer.isBuffer(body) ? body : undefined);
    });
}
