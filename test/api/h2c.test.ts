/**
 * http.h2c (Distribution v3): cleartext HTTP/2 for clients that start with it (prior knowledge),
 * HTTP/1.1 for everyone else, on the same port; off by default, where an HTTP/2 client is refused.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import http2 from 'node:http2';
import { startRegistry, type Registry } from '../helpers/registry.js';
import { target } from '../helpers/target.js';

type Answer = { status: number; headers: http2.IncomingHttpHeaders; body: Buffer };

function h2(session: http2.ClientHttp2Session, headers: http2.OutgoingHttpHeaders, body?: Buffer): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const stream = session.request(headers);
    const chunks: Buffer[] = [];
    let head: http2.IncomingHttpHeaders = {};
    stream.on('response', (h) => (head = h));
    stream.on('data', (c: Buffer) => chunks.push(c));
    stream.on('end', () => resolve({ status: Number(head[':status']), headers: head, body: Buffer.concat(chunks) }));
    stream.on('error', reject);
    stream.end(body);
  });
}

function connect(url: string): Promise<http2.ClientHttp2Session> {
  return new Promise((resolve, reject) => {
    const session = http2.connect(url);
    session.once('connect', () => resolve(session));
    session.once('error', reject);
  });
}

describe('http.h2c', { skip: target === 'distribution' ? 'Distribution 2.8.2 has no http.h2c (a v3 setting)' : false }, () => {
  let reg: Registry;
  let plain: Registry;
  before(async () => {
    reg = await startRegistry({ env: { REGISTRY_HTTP_H2C_ENABLED: 'true' } });
    plain = await startRegistry();
  });
  after(async () => {
    await reg?.stop();
    await plain?.stop();
  });

  it('serves HTTP/2 with prior knowledge: a blob and a manifest pushed and read back', async () => {
    const session = await connect(reg.url);
    try {
      const base = await h2(session, { ':path': '/v2/' });
      assert.equal(base.status, 200);
      assert.equal(base.headers['docker-distribution-api-version'], 'registry/2.0');
      const blob = Buffer.alloc(2 * 1024 * 1024 + 3, 'c');
      const digest = `sha256:${createHash('sha256').update(blob).digest('hex')}`;
      const pushed = await h2(session, { ':method': 'POST', ':path': `/v2/h2c/app/blobs/uploads/?digest=${digest}`, 'content-length': blob.length }, blob);
      assert.equal(pushed.status, 201);
      const config = Buffer.from('{}');
      const configDigest = `sha256:${createHash('sha256').update(config).digest('hex')}`;
      assert.equal((await h2(session, { ':method': 'POST', ':path': `/v2/h2c/app/blobs/uploads/?digest=${configDigest}`, 'content-length': config.length }, config)).status, 201);
      const manifest = Buffer.from(JSON.stringify({
        schemaVersion: 2,
        mediaType: 'application/vnd.oci.image.manifest.v1+json',
        config: { mediaType: 'application/vnd.oci.empty.v1+json', digest: configDigest, size: config.length },
        layers: [{ mediaType: 'application/vnd.oci.image.layer.v1.tar', digest, size: blob.length }],
      }));
      const put = await h2(session, { ':method': 'PUT', ':path': '/v2/h2c/app/manifests/v1', 'content-type': 'application/vnd.oci.image.manifest.v1+json' }, manifest);
      assert.equal(put.status, 201);
      const got = await h2(session, { ':path': '/v2/h2c/app/manifests/v1', accept: 'application/vnd.oci.image.manifest.v1+json' });
      assert.ok(got.body.equals(manifest));
      const pulled = await h2(session, { ':path': `/v2/h2c/app/blobs/${digest}` });
      assert.equal(pulled.status, 200);
      assert.ok(pulled.body.equals(blob));
    } finally {
      session.close();
    }
  });

  it('serves HTTP/1.1 on the same port', async () => {
    const res = await reg.req('GET', '/v2/h2c/app/tags/list');
    assert.equal(res.status, 200);
    assert.deepEqual(res.json().tags, ['v1']);
  });

  it('is off by default: an HTTP/2 client gets no HTTP/2 session', async () => {
    const session = http2.connect(plain.url);
    const outcome = await new Promise<string>((resolve) => {
      session.once('error', (err) => resolve(`error: ${err.message}`));
      session.once('connect', () => {
        const stream = session.request({ ':path': '/v2/' });
        stream.once('response', () => resolve('answered'));
        stream.once('error', (err) => resolve(`error: ${err.message}`));
        stream.end();
      });
    });
    session.destroy();
    assert.match(outcome, /^error: /);
  });
});
