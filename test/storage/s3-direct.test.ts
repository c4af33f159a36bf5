/**
 * The S3 calls past the SDK (src/storage/driver/s3/direct.ts, plain-http.ts, sigv4.ts), against
 * the signing examples of the S3 API reference and a scripted HTTP server on a loopback socket
 * for the answers RGW does not give at will (chunked bodies cut anywhere, 503s, a reset before
 * the answer, silence). The driver suite on RGW (s3.test.ts) covers them against a real store.
 */
import assert from 'node:assert/strict';
import net from 'node:net';
import { after, before, describe, it } from 'node:test';
import { DirectS3, answerError } from '../../src/storage/driver/s3/direct.js';
import { canonicalQuery, EMPTY_SHA256, SigV4 } from '../../src/storage/driver/s3/sigv4.js';
import { storageFault, StorageUnavailableError } from '../../src/storage/driver/errors.js';

const EXAMPLE = { accessKeyId: 'AKIAIOSFODNN7EXAMPLE', secretAccessKey: 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY' };
const EXAMPLE_TIME = new Date('2013-05-24T00:00:00Z');

describe('SigV4 signing', () => {
  it('signs the S3 reference\'s GET Object example (a Range header signed) to its published signature', () => {
    const headers: Record<string, string> = { host: 'examplebucket.s3.amazonaws.com', range: 'bytes=0-9' };
    new SigV4('us-east-1').sign('GET', '/test.txt', '', headers, EMPTY_SHA256, EXAMPLE, EXAMPLE_TIME);
    assert.equal(headers['x-amz-date'], '20130524T000000Z');
    assert.equal(headers['x-amz-content-sha256'], EMPTY_SHA256);
    assert.equal(
      headers.authorization,
      'AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request, SignedHeaders=host;range;x-amz-content-sha256;x-amz-date, Signature=f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41',
    );
  });

  it('presigns the S3 reference\'s query-string example to its published signature', () => {
    const query = new SigV4('us-east-1').presign('GET', 'examplebucket.s3.amazonaws.com', '/test.txt', 86400, EXAMPLE, EXAMPLE_TIME);
    assert.equal(
      query,
      'X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIAIOSFODNN7EXAMPLE%2F20130524%2Fus-east-1%2Fs3%2Faws4_request&X-Amz-Date=20130524T000000Z&X-Amz-Expires=86400&X-Amz-SignedHeaders=host&X-Amz-Signature=aeeed9bbccd4d02ee5c0109b86d86835f995330da4c265957d157751f604d404',
    );
  });

  it('writes a canonical query: names sorted, RFC 3986 encoding, empty values kept, undefined left out', () => {
    assert.equal(canonicalQuery({ prefix: 'a b/c*', 'list-type': '2', delimiter: undefined, uploads: '' }), "list-type=2&prefix=a%20b%2Fc%2A&uploads=");
  });

  it('signs a session token and keeps the signing key for a day', () => {
    const signer = new SigV4('eu-west-1');
    const a: Record<string, string> = { host: 'h' };
    signer.sign('HEAD', '/b/k', '', a, EMPTY_SHA256, { ...EXAMPLE, sessionToken: 'tok' }, EXAMPLE_TIME);
    assert.equal(a['x-amz-security-token'], 'tok');
    assert.match(a.authorization!, /SignedHeaders=host;x-amz-content-sha256;x-amz-date;x-amz-security-token,/);
    // Another secret the same day is signed with its own key.
    const b: Record<string, string> = { host: 'h' };
    const c: Record<string, string> = { host: 'h' };
    signer.sign('HEAD', '/b/k', '', b, EMPTY_SHA256, EXAMPLE, EXAMPLE_TIME);
    signer.sign('HEAD', '/b/k', '', c, EMPTY_SHA256, { ...EXAMPLE, secretAccessKey: 'other' }, EXAMPLE_TIME);
    assert.notEqual(b.authorization, c.authorization);
  });
});

interface Seen { method: string; target: string; headers: Map<string, string>; body: Buffer; connection: number }

/**
 * An HTTP/1.1 server on a raw socket that answers each request with what `answer` writes (any
 * bytes, in pieces, or nothing), and records the requests with the connection they came on.
 */
class Scripted {
  readonly seen: Seen[] = [];
  port = 0;
  answer: (req: Seen, socket: net.Socket) => void = (_req, s) => s.write('HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n');
  private connections = 0;
  private readonly sockets = new Set<net.Socket>();
  private readonly server = net.createServer((socket) => {
    const id = ++this.connections;
    this.sockets.add(socket);
    socket.on('close', () => this.sockets.delete(socket));
    socket.on('error', () => undefined);
    let buf = Buffer.alloc(0);
    socket.on('data', (d: Buffer) => {
      buf = Buffer.concat([buf, d]);
      for (;;) {
        const end = buf.indexOf('\r\n\r\n');
        if (end < 0) return;
        const [line, ...rest] = buf.subarray(0, end).toString('latin1').split('\r\n');
        const headers = new Map(rest.map((h) => [h.slice(0, h.indexOf(':')).toLowerCase(), h.slice(h.indexOf(':') + 1).trim()] as [string, string]));
        const length = Number(headers.get('content-length') ?? 0);
        if (buf.length < end + 4 + length) return;
        const [method, target] = line!.split(' ') as [string, string];
        const req = { method, target, headers, body: buf.subarray(end + 4, end + 4 + length), connection: id };
        buf = buf.subarray(end + 4 + length);
        this.seen.push(req);
        this.answer(req, socket);
      }
    });
  });

  async start(): Promise<void> {
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    this.port = (this.server.address() as net.AddressInfo).port;
  }

  async stop(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}

describe('S3 requests past the SDK, against a scripted server', () => {
  const server = new Scripted();
  let direct: DirectS3;
  const make = (timeoutMs = 2000) =>
    new DirectS3({
      endpoint: new URL(`http://127.0.0.1:${server.port}`),
      region: 'us-east-1',
      bucket: 'bkt',
      timeoutMs,
      maxAttempts: 3,
      credentials: async () => EXAMPLE,
    });
  before(async () => {
    await server.start();
    direct = make();
  });
  after(async () => {
    direct.close();
    await server.stop();
  });

  it('sends signed requests with their bodies, and reads bodies by Content-Length, chunked in any pieces, and none for HEAD', async () => {
    server.seen.length = 0;
    server.answer = (req, s) => {
      if (req.method === 'HEAD') s.write('HTTP/1.1 200 OK\r\nContent-Length: 1234\r\nLast-Modified: Wed, 21 Oct 2015 07:28:00 GMT\r\n\r\n');
      else if (req.method === 'PUT') s.write('HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n');
      else {
        // A chunked listing, cut in its head, inside data, inside a size line's CRLF and the last chunk's.
        const whole = 'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n1a\r\n, a chunked answer in bits\r\n0\r\n\r\n';
        const cuts = [30, 52, 58, 70, 90, 92];
        let at = 0;
        for (const cut of cuts) {
          const piece = whole.slice(at, cut);
          at = cut;
          setTimeout(() => s.write(piece), cuts.indexOf(cut) * 5);
        }
        setTimeout(() => s.write(whole.slice(at)), 40);
      }
    };
    const head = await direct.send({ method: 'HEAD', key: 'a/b' });
    assert.equal(head.status, 200);
    assert.equal(head.headers.get('content-length'), '1234');
    assert.equal(head.body.length, 0);
    const put = await direct.send({ method: 'PUT', key: 'dir/x y', headers: { 'content-type': 'application/octet-stream' }, body: Buffer.from('payload') });
    assert.equal(put.status, 200);
    const list = await direct.send({ method: 'GET', key: '', query: { 'list-type': '2', prefix: 'p/' } });
    assert.equal(list.body.toString(), 'hello, a chunked answer in bits');
    const [h, p, l] = server.seen;
    assert.equal(h!.target, '/bkt/a/b');
    assert.equal(p!.target, '/bkt/dir/x%20y');
    assert.equal(p!.body.toString(), 'payload');
    assert.match(p!.headers.get('authorization')!, /SignedHeaders=content-type;host;x-amz-content-sha256;x-amz-date,/);
    assert.equal(p!.headers.get('x-amz-content-sha256'), '239f59ed55e737c77147cf55ad0c1b030b6d7ee748a7426952f9b852d5a935e5'); // sha256("payload")
    assert.equal(l!.target, '/bkt?list-type=2&prefix=p%2F');
    // One kept-alive connection carried all three.
    assert.deepEqual(server.seen.map((s) => s.connection), [h!.connection, h!.connection, h!.connection]);
  });

  it('tries again after a 503, a reset before the answer, and a copy\'s error in a 200; gives up after three tries', async () => {
    server.seen.length = 0;
    let n = 0;
    server.answer = (_req, s) => {
      n++;
      const slow = '<Error><Code>SlowDown</Code><Message>x</Message></Error>';
      if (n === 1) s.write(`HTTP/1.1 503 Slow Down\r\nContent-Length: ${slow.length}\r\n\r\n${slow}`);
      else if (n === 2) s.destroy();
      else s.write('HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok');
    };
    const answer = await direct.send({ method: 'GET', key: 'k' });
    assert.equal(answer.body.toString(), 'ok');
    assert.equal(server.seen.length, 3);

    server.seen.length = 0;
    const copyError = '<?xml version="1.0"?><Error><Code>InternalError</Code><Message>copy failed</Message></Error>';
    server.answer = (_req, s) => s.write(`HTTP/1.1 200 OK\r\nContent-Length: ${copyError.length}\r\n\r\n${copyError}`);
    await assert.rejects(direct.expect({ method: 'PUT', key: 'dst', headers: { 'x-amz-copy-source': '/bkt/src' }, errorIn200: true }, 'copy'), (err: Error) => {
      assert.equal(err.name, 'InternalError');
      return true;
    });
    assert.equal(server.seen.length, 3, 'three tries of a copy that kept failing');
  });

  it('shapes error answers as the SDK does, so a missing key is told from a missing bucket', async () => {
    server.answer = (req, s) => {
      const code = req.target.includes('nobucket') ? 'NoSuchBucket' : 'NoSuchKey';
      const body = `<Error><Code>${code}</Code><Message>gone</Message></Error>`;
      s.write(`HTTP/1.1 404 Not Found\r\nContent-Length: ${body.length}\r\n\r\n${body}`);
    };
    const missing = answerError(await direct.send({ method: 'GET', key: 'k' }), 'GET k');
    assert.deepEqual([missing.name, missing.Code, missing.$metadata.httpStatusCode], ['NoSuchKey', 'NoSuchKey', 404]);
    const bucket = answerError(await direct.send({ method: 'GET', key: 'nobucket' }), 'GET');
    assert.equal(bucket.name, 'NoSuchBucket');
    server.answer = (_req, s) => s.write('HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n');
    assert.equal(answerError(await direct.send({ method: 'HEAD', key: 'k' }), 'HEAD').name, 'NotFound');
  });

  it('gives up on a silent server after three timeouts, with an error that storageFault calls unavailable, and closes those connections', async () => {
    const silent = make(300);
    server.seen.length = 0;
    server.answer = () => undefined;
    const started = Date.now();
    const err = await silent.send({ method: 'HEAD', key: 'k' }).then(() => undefined, (e: unknown) => e);
    const took = Date.now() - started;
    assert.equal((err as { code?: string }).code, 'ETIMEDOUT');
    assert.ok(storageFault('s3', err) instanceof StorageUnavailableError);
    assert.equal(server.seen.length, 3);
    assert.ok(took >= 900, `three tries of 300 ms took ${took} ms`);
    assert.equal(new Set(server.seen.map((s) => s.connection)).size, 3, 'each timed-out try closed its connection');
    silent.close();
  });
});
