// The common headers of Berth's HTTP/1 responses (src/api/response.ts), written with each answer's
// own headers: on a real server, every way an answer is written carries them once, and an
// answer's own header of the same name replaces a common one.
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { commonHeader, RegistryResponse, setCommonHeaders } from '../../src/api/response.js';

const COMMON = [commonHeader('Docker-Distribution-API-Version', 'registry/2.0'), commonHeader('X-Request-Id', 'req-1'), commonHeader('X-Twice', ['a', 'b'])];

/** Each way a handler writes its answer, by path. */
const ANSWERS: Record<string, (res: http.ServerResponse) => void> = {
  '/object': (res) => res.writeHead(200, { 'Content-Type': 'text/plain', 'Content-Length': 2 }).end('ok'),
  '/own-request-id': (res) => res.writeHead(200, { 'x-request-id': 'own', 'Content-Length': 0 }).end(),
  '/reason-and-list': (res) => res.writeHead(299, 'Fine', ['X-Own', 'yes', 'Content-Length', '0']).end(),
  '/set-then-write': (res) => {
    res.setHeader('X-Set', 'first');
    res.writeHead(500, { 'X-Request-Id': 'replaced', 'Content-Length': 0 }).end();
  },
  '/set-own-then-write': (res) => {
    res.setHeader('X-Request-Id', 'set');
    res.appendHeader('X-Twice', 'c');
    res.writeHead(200, { 'Content-Length': 0 }).end();
  },
  '/implicit': (res) => res.end('implicit'),
  '/streamed': (res) => {
    res.statusCode = 206;
    res.write('part one, ');
    res.end('part two');
  },
};

describe('common headers of HTTP/1 responses', () => {
  let server: http.Server;
  let url: string;
  before(async () => {
    server = http.createServer({ ServerResponse: RegistryResponse }, (req, res) => {
      setCommonHeaders(res, COMMON);
      ANSWERS[req.url ?? '']!(res);
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  after(() => new Promise<void>((resolve) => server.close(() => resolve())));

  async function get(path: string): Promise<Response> {
    const res = await fetch(`${url}${path}`);
    await res.arrayBuffer();
    return res;
  }

  it('go with an answer given as an object, once each, a list value as its lines', async () => {
    const res = await get('/object');
    assert.equal(res.status, 200);
    assert.equal(res.headers.get('docker-distribution-api-version'), 'registry/2.0');
    assert.equal(res.headers.get('x-request-id'), 'req-1');
    assert.equal(res.headers.get('x-twice'), 'a, b');
    assert.equal(res.headers.get('content-type'), 'text/plain');
  });

  it("give way to the answer's own header of the same name, whatever its case", async () => {
    const res = await get('/own-request-id');
    assert.equal(res.headers.get('x-request-id'), 'own');
    assert.equal(res.headers.get('docker-distribution-api-version'), 'registry/2.0');
  });

  it('go with a status message and a list of names and values', async () => {
    const res = await get('/reason-and-list');
    assert.equal(res.status, 299);
    assert.equal(res.statusText, 'Fine');
    assert.equal(res.headers.get('x-own'), 'yes');
    assert.equal(res.headers.get('x-request-id'), 'req-1');
  });

  it('come first when a header is set one by one, so the answer can still replace them', async () => {
    const res = await get('/set-then-write');
    assert.equal(res.status, 500);
    assert.equal(res.headers.get('x-set'), 'first');
    assert.equal(res.headers.get('x-request-id'), 'replaced');
    assert.equal(res.headers.get('x-twice'), 'a, b');
  });

  it('are replaced by a header of the same name set one by one before the answer', async () => {
    const res = await get('/set-own-then-write');
    assert.equal(res.headers.get('x-request-id'), 'set');
    assert.equal(res.headers.get('x-twice'), 'a, b, c');
    assert.equal(res.headers.get('docker-distribution-api-version'), 'registry/2.0');
  });

  it('go with answers that never call writeHead', async () => {
    for (const [path, status] of [['/implicit', 200], ['/streamed', 206]] as const) {
      const res = await get(path);
      assert.equal(res.status, status, path);
      assert.equal(res.headers.get('x-request-id'), 'req-1', path);
      assert.equal(res.headers.get('docker-distribution-api-version'), 'registry/2.0', path);
    }
  });
});
