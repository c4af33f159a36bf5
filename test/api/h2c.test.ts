/**
 * http.h2c (Distribution v3): cleartext HTTP/2 for clients that start with it (prior knowledge),
 * HTTP/1.1 for everyone else, on the same port; off by default, where an HTTP/2 client is refused.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import http2 from 'node:http2';
import net from 'node:net';
import { once } from 'node:events';
import { h2connect as connect, h2request as h2 } from '../helpers/http2.js';
import { startRegistry, type Registry } from '../helpers/registry.js';
import { target } from '../helpers/target.js';

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

describe('http.h2c connection sniffing', () => {
  it('closes an HTTP/1.1 connection whose headers never end once the header timeout passes', async () => {
    const { createListener } = await import('../../src/api/listener.js');
    const { parseConfig } = await import('../../src/config/load.js');
    const { config } = parseConfig('version: 0.1\nstorage: { inmemory: {} }\nhttp: { h2c: { enabled: true } }\n', {});
    const listener = await createListener(config, (_req, res) => res.end('ok'), { requestTimeout: 0, headersTimeout: 200, keepAliveTimeout: 1000, connectionsCheckingInterval: 50 });
    await new Promise<void>((resolve) => listener.server.listen(0, '127.0.0.1', resolve));
    const { port } = listener.server.address() as net.AddressInfo;
    const socket = net.connect(port, '127.0.0.1');
    // Writes after the server has closed it fail; that is the point.
    socket.on('error', () => undefined);
    const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()));
    // Past the preface check (HTTP/1.1), then headers a line at a time, never ending.
    const drip = setInterval(() => socket.writable && socket.write(`X-Drip-${Date.now()}: x\r\n`), 50);
    try {
      await new Promise<void>((resolve) => socket.once('connect', () => resolve()));
      socket.write('GET / HTTP/1.1\r\nHost: x\r\n');
      const [closedBy] = await Promise.race([
        closed.then(() => ['server'] as const),
        new Promise<readonly ['nobody']>((resolve) => setTimeout(() => resolve(['nobody']), 30_000).unref()),
      ]);
      assert.equal(closedBy, 'server');
    } finally {
      clearInterval(drip);
      socket.destroy();
      listener.closeAll();
      await new Promise((resolve) => listener.server.close(resolve));
    }
  });

  it('closes a connection that sends too few bytes to tell HTTP/2 from HTTP/1.1 once the header timeout passes', async () => {
    const { createListener } = await import('../../src/api/listener.js');
    const { parseConfig } = await import('../../src/config/load.js');
    const { config } = parseConfig('version: 0.1\nstorage: { inmemory: {} }\nhttp: { h2c: { enabled: true } }\n', {});
    const listener = await createListener(config, (_req, res) => res.end('ok'), { requestTimeout: 0, headersTimeout: 200, keepAliveTimeout: 1000 });
    await new Promise<void>((resolve) => listener.server.listen(0, '127.0.0.1', resolve));
    try {
      const { port } = listener.server.address() as net.AddressInfo;
      const socket = net.connect(port, '127.0.0.1');
      await once(socket, 'connect');
      socket.write('PRI * HTTP'); // a prefix of the HTTP/2 preface: not enough to decide
      const [closedBy] = await Promise.race([
        once(socket, 'close').then(() => ['server'] as const),
        new Promise<readonly ['nobody']>((resolve) => setTimeout(() => resolve(['nobody']), 30_000).unref()),
      ]);
      socket.destroy();
      assert.equal(closedBy, 'server');
    } finally {
      listener.closeAll();
      await new Promise((resolve) => listener.server.close(resolve));
    }
  });
});
