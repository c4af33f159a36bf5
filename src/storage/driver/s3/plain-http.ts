import net from 'node:net';
import type { RandomAccessFile } from '../types.js';

/**
 * S3 requests over plain HTTP/1.1 (an `http://` path-style regionendpoint), past the AWS SDK, on
 * a pool of kept-alive sockets. Two kinds of exchange share the pool:
 *
 * - object downloads (`get`, an ObjectGet): a socket reads into two reused 256 KiB buffers
 *   (net's `onread`), and each read is copied straight into the caller's buffer
 *   (RandomAccessFile.read, as blob downloads use it: src/api/send-file.ts). Through the SDK each
 *   read is a fresh 64 KiB buffer passed through the HTTP client's parser and two streams:
 *   several times the CPU per byte of the copy (docs/performance.md, "Pulls on S3"). Only the
 *   answer's head is parsed; any answer but 200/206 with a Content-Length is left to the caller
 *   (`ObjectGet.status`);
 * - small requests (`request`, a WholeAnswer): HEAD, small GET and PUT, DELETE, copies and
 *   listings (direct.ts), whose whole answer is read into memory. Through the SDK each such call
 *   cost about 2 ms of CPU (its middleware, endpoint rules, serde and promise chains),
 *   which starved a loaded registry (docs/operations.md, "Sustained load").
 *
 * Requests here are signed by the caller (sigv4.ts); errors are Node-style codes (ECONNRESET,
 * ETIMEDOUT, …) that storageFault (../errors.ts) reads as "the store did not answer".
 */

const READ_BUFFER = 256 * 1024;
/** Longest response head taken (RGW's and S3's are well under 2 KiB). */
const MAX_HEAD = 64 * 1024;
/** Longest whole answer taken (a listing page of 1000 long keys is well under 1 MiB). */
const MAX_BODY = 64 * 1024 * 1024;
/** Idle connections kept per driver, and how long each is kept. */
const MAX_IDLE = 64;
const IDLE_MS = 4000;

export interface PlainHttpOptions {
  /** Milliseconds a request may wait for its answer's head, or between two reads of its body (0: no limit). */
  timeoutMs: number;
  /** User-Agent of every request. */
  userAgent?: string;
}

/** What a connection carries: the bytes of its answer go to it, and its failure. */
interface Exchange {
  /** Bytes from the socket (a view of its read buffer, good until the socket reads again). False pauses reading. */
  received(bytes: Buffer): boolean;
  fail(err: unknown): void;
  /** The connection failed before any byte of the answer came (a kept connection the server had closed). */
  readonly failedBeforeAnswer: boolean;
  readonly failure: unknown;
  readonly answered: Promise<void>;
}

interface PendingRead {
  position: number;
  buffer: Uint8Array;
  length: number;
  filled: number;
  resolve(n: number): void;
  reject(err: unknown): void;
}

/** An error with a Node errno-style code, which the base wrapper maps to "storage unavailable". */
function codeError(code: string, message: string): Error {
  return Object.assign(new Error(message), { code });
}

/** One connection: its socket, its two read buffers, and the exchange it carries (if any). */
class Connection {
  readonly socket: net.Socket;
  private readonly buffers = [Buffer.allocUnsafeSlow(READ_BUFFER), Buffer.allocUnsafeSlow(READ_BUFFER)];
  private which = 0;
  exchange: Exchange | undefined;
  closed = false;

  constructor(host: string, port: number, onClose: (c: Connection) => void) {
    this.socket = net.connect({
      host,
      port,
      noDelay: true,
      onread: {
        buffer: () => this.buffers[(this.which ^= 1)]!,
        callback: (n: number, buf: Uint8Array) => {
          if (!this.exchange) {
            this.socket.destroy(codeError('ECONNRESET', 'S3 sent bytes on an idle connection'));
            return false;
          }
          return this.exchange.received((buf as Buffer).subarray(0, n));
        },
      },
    });
    this.socket.on('error', (err) => this.exchange?.fail(err));
    this.socket.on('close', () => {
      this.closed = true;
      this.exchange?.fail(codeError('ECONNRESET', 'S3 closed the connection'));
      onClose(this);
    });
    this.socket.on('timeout', () => this.socket.destroy(codeError('ETIMEDOUT', 'S3 did not answer in time')));
  }
}

/** The parts of an answer's head that matter here. */
interface Head {
  status: number;
  /** Lower-case names; a repeated header keeps its last value. */
  headers: Map<string, string>;
  keepAlive: boolean;
  /** undefined: none given. NaN: not a number. */
  length: number | undefined;
  chunked: boolean;
}

/** Parses a status line and headers (without the blank line); undefined when it is not HTTP/1.x. */
function parseHead(text: string): Head | undefined {
  const lines = text.split('\r\n');
  const m = /^HTTP\/1\.([01]) (\d{3})/.exec(lines[0] ?? '');
  if (!m) return undefined;
  const head: Head = { status: Number(m[2]), headers: new Map(), keepAlive: m[1] === '1', length: undefined, chunked: false };
  for (let i = 1; i < lines.length; i++) {
    const line = lines[i]!;
    const colon = line.indexOf(':');
    if (colon < 0) continue;
    const name = line.slice(0, colon).trim().toLowerCase();
    const value = line.slice(colon + 1).trim();
    head.headers.set(name, value);
    if (name === 'content-length') head.length = /^\d+$/.test(value) ? Number(value) : NaN;
    else if (name === 'transfer-encoding') head.chunked = /chunked/i.test(value);
    else if (name === 'connection') head.keepAlive = !/close/i.test(value) && (m[1] === '1' || /keep-alive/i.test(value));
  }
  return head;
}

/** Collects an answer's head from the bytes received; the rest once it is whole, or undefined while it is not. */
class HeadReader {
  private parts: Buffer[] = [];
  private bytes = 0;

  /** [head text, bytes after it], or undefined while the head is incomplete; throws when it grows too long. */
  take(bytes: Buffer): [string, Buffer] | undefined {
    this.parts.push(Buffer.from(bytes));
    this.bytes += bytes.length;
    const all = this.parts.length === 1 ? this.parts[0]! : Buffer.concat(this.parts, this.bytes);
    const end = all.indexOf('\r\n\r\n');
    if (end < 0) {
      if (this.bytes > MAX_HEAD) throw codeError('ECONNRESET', 'S3 answer head too long');
      return undefined;
    }
    this.parts = [];
    return [all.subarray(0, end).toString('latin1'), all.subarray(end + 4)];
  }
}

/** A request for `request()`: the target is path and query (signed already), headers include host. */
export interface PlainRequest {
  method: string;
  target: string;
  headers: Record<string, string>;
  body?: Buffer;
}

/** A whole answer. */
export interface PlainAnswer {
  status: number;
  headers: Map<string, string>;
  body: Buffer;
}

/** Requests on a small pool of kept-alive connections to one host. */
export class PlainHttp {
  private readonly idle: Connection[] = [];
  private readonly host: string;
  private readonly port: number;
  private stopped = false;

  constructor(endpoint: URL, private readonly options: PlainHttpOptions) {
    this.host = endpoint.hostname.replace(/^\[|\]$/g, '');
    this.port = Number(endpoint.port || 80);
  }

  /**
   * Sends a GET for `target` (path and query, with `headers` signed for it) from `offset`, and
   * resolves once the answer's head is in: `status` tells whether it is the object (200/206),
   * `file` reads it.
   */
  async get(target: string, headers: Record<string, string>, offset: number): Promise<ObjectGet> {
    const request: PlainRequest = { method: 'GET', target, headers: offset > 0 ? { ...headers, range: `bytes=${offset}-` } : headers };
    return this.exchange(request, (conn, done) => new ObjectGet(conn, offset, done));
  }

  /** Sends a request and reads its whole answer (any status). */
  async request(request: PlainRequest): Promise<PlainAnswer> {
    const exchange = await this.exchange(request, (conn, done) => new WholeAnswer(conn, request.method === 'HEAD', done));
    if (!exchange.answer) throw exchange.failure; // cut in the middle of the answer
    return exchange.answer;
  }

  close(): void {
    this.stopped = true;
    for (const c of this.idle.splice(0)) c.socket.destroy();
  }

  private async exchange<T extends Exchange>(request: PlainRequest, make: (conn: Connection, done: (c: Connection) => void) => T): Promise<T> {
    const reused = this.idle.pop();
    let ex = await this.send(reused ?? this.connect(), request, make);
    // A kept connection the server had already closed: once more on a new one (not after a timeout).
    if (ex.failedBeforeAnswer && reused && (ex.failure as { code?: string } | undefined)?.code !== 'ETIMEDOUT') {
      ex = await this.send(this.connect(), request, make);
    }
    if (ex.failedBeforeAnswer) throw ex.failure;
    return ex;
  }

  private connect(): Connection {
    return new Connection(this.host, this.port, (c) => {
      const at = this.idle.indexOf(c);
      if (at >= 0) this.idle.splice(at, 1);
    });
  }

  private async send<T extends Exchange>(conn: Connection, request: PlainRequest, make: (conn: Connection, done: (c: Connection) => void) => T): Promise<T> {
    const ex = make(conn, (done) => this.release(done));
    conn.exchange = ex;
    conn.socket.ref();
    conn.socket.resume(); // a connection may have been left paused by its last answer
    conn.socket.setTimeout(this.options.timeoutMs);
    const lines = [`${request.method} ${request.target} HTTP/1.1`];
    for (const [name, value] of Object.entries(request.headers)) lines.push(`${name}: ${value}`);
    if (request.body || request.method === 'PUT' || request.method === 'POST') lines.push(`content-length: ${request.body?.length ?? 0}`);
    lines.push('accept-encoding: identity', `user-agent: ${this.options.userAgent ?? 'berth'}`, '', '');
    conn.socket.cork();
    conn.socket.write(lines.join('\r\n'));
    if (request.body?.length) conn.socket.write(request.body);
    conn.socket.uncork();
    await ex.answered;
    return ex;
  }

  /**
   * A connection whose answer was read to its end goes back to the pool; any other is closed, as
   * is one still sending its request's body (an error answered before the body was read: the
   * rest of a part would otherwise go ahead of the next request).
   */
  private release(conn: Connection): void {
    conn.exchange = undefined;
    if (this.stopped || conn.closed || this.idle.length >= MAX_IDLE || conn.socket.writableLength > 0) {
      conn.socket.destroy();
      return;
    }
    conn.socket.setTimeout(IDLE_MS);
    conn.socket.unref();
    this.idle.push(conn);
  }
}

/**
 * One request's whole answer: the head, then a body of Content-Length bytes, or chunked, or
 * none (HEAD, 204, 304). Resolves `answered` once all of it is in.
 */
class WholeAnswer implements Exchange {
  answer: PlainAnswer | undefined;
  failure: unknown;
  private state: 'head' | 'body' | 'chunked' | 'done' | 'failed' = 'head';
  private readonly headReader = new HeadReader();
  private head: Head | undefined;
  private body: Buffer[] = [];
  private bodyBytes = 0;
  /** Chunked: bytes not yet parsed (a chunk's size line or its data may arrive in pieces). */
  private pending: Buffer | undefined;
  private resolveAnswer!: () => void;
  readonly answered: Promise<void>;
  private gotBytes = false;

  constructor(
    private readonly conn: Connection,
    private readonly noBody: boolean,
    private readonly done: (conn: Connection) => void,
  ) {
    this.answered = new Promise<void>((resolve) => (this.resolveAnswer = resolve));
  }

  get failedBeforeAnswer(): boolean {
    return this.state === 'failed' && !this.gotBytes;
  }

  received(bytes: Buffer): boolean {
    this.gotBytes = true;
    try {
      this.take(bytes);
    } catch (err) {
      this.conn.socket.destroy(err as Error);
      return false;
    }
    return this.state !== 'done' && this.state !== 'failed';
  }

  private take(bytes: Buffer): void {
    if (this.state === 'head') {
      const got = this.headReader.take(bytes);
      if (!got) return;
      const head = parseHead(got[0]);
      if (!head) throw codeError('ECONNRESET', 'S3 answer unreadable');
      if (head.status < 200) return this.take(got[1]); // 100 Continue and the like: the real head follows
      this.head = head;
      bytes = got[1];
      if (this.noBody || head.status === 204 || head.status === 304) {
        if (bytes.length > 0) throw codeError('ECONNRESET', 'S3 sent a body where none belongs');
        return this.finish();
      }
      if (head.chunked) this.state = 'chunked';
      else if (head.length === undefined || !Number.isSafeInteger(head.length)) throw codeError('ECONNRESET', 'S3 answer without a usable length');
      else if (head.length > MAX_BODY) throw new Error(`S3 answer longer than ${MAX_BODY} bytes`);
      else this.state = 'body';
    }
    if (this.state === 'body') {
      const want = this.head!.length! - this.bodyBytes;
      if (bytes.length > want) throw codeError('ECONNRESET', 'S3 sent more than its Content-Length');
      this.keep(bytes);
      if (this.bodyBytes === this.head!.length) this.finish();
    } else if (this.state === 'chunked') {
      this.chunks(bytes);
    }
  }

  private keep(bytes: Buffer): void {
    if (bytes.length === 0) return;
    this.body.push(Buffer.from(bytes));
    this.bodyBytes += bytes.length;
    if (this.bodyBytes > MAX_BODY) throw new Error(`S3 answer longer than ${MAX_BODY} bytes`);
  }

  /** Chunked transfer coding: size line, data, CRLF, …, a zero size, trailers, blank line. */
  private chunks(bytes: Buffer): void {
    let buf = this.pending ? Buffer.concat([this.pending, bytes]) : bytes;
    this.pending = undefined;
    for (;;) {
      const eol = buf.indexOf('\r\n');
      if (eol < 0) break;
      const size = parseInt(buf.subarray(0, eol).toString('latin1'), 16);
      if (!Number.isSafeInteger(size) || size < 0) throw codeError('ECONNRESET', 'S3 sent a bad chunk size');
      if (size === 0) {
        // Trailers (none expected) end with a blank line: "0\r\n\r\n" without any.
        const end = buf.indexOf('\r\n\r\n', eol);
        if (end < 0) {
          if (buf.length > MAX_HEAD) throw codeError('ECONNRESET', 'S3 chunk trailer too long');
          break;
        }
        if (end + 4 !== buf.length) throw codeError('ECONNRESET', 'S3 sent bytes after its answer');
        return this.finish();
      }
      if (buf.length < eol + 2 + size + 2) break;
      this.keep(buf.subarray(eol + 2, eol + 2 + size));
      buf = buf.subarray(eol + 2 + size + 2);
    }
    if (buf.length > 0) this.pending = Buffer.from(buf);
  }

  private finish(): void {
    const head = this.head!;
    this.state = 'done';
    this.answer = { status: head.status, headers: head.headers, body: this.body.length === 1 ? this.body[0]! : Buffer.concat(this.body, this.bodyBytes) };
    this.body = [];
    if (head.keepAlive) this.done(this.conn);
    else {
      this.conn.exchange = undefined;
      this.conn.socket.destroy();
    }
    this.resolveAnswer();
  }

  fail(err: unknown): void {
    if (this.state === 'done' || this.state === 'failed') return;
    this.state = 'failed';
    this.failure = err;
    this.conn.exchange = undefined;
    this.resolveAnswer();
  }
}

/** One GET: its answer's head, then its body read into the callers' buffers in order. */
export class ObjectGet implements RandomAccessFile, Exchange {
  status = 0;
  size = 0;
  /** Bytes of the body not yet received. */
  private remaining = 0;
  /** Object offset of the next body byte to arrive. */
  private cursor: number;
  private readonly headReader = new HeadReader();
  private state: 'head' | 'body' | 'done' | 'failed' = 'head';
  private keepAlive = true;
  failure: unknown;
  private readonly reads: PendingRead[] = [];
  /** Body bytes received before any read wanted them (the socket is paused meanwhile). */
  private leftover: Buffer | undefined;
  private answer!: { resolve(): void };
  readonly answered: Promise<void>;

  constructor(
    private readonly conn: Connection,
    private readonly offset: number,
    private readonly done: (conn: Connection) => void,
  ) {
    this.cursor = offset;
    this.answered = new Promise<void>((resolve) => (this.answer = { resolve }));
  }

  /** The connection failed before any byte of the answer came. */
  get failedBeforeAnswer(): boolean {
    return this.state === 'failed' && this.status === 0;
  }

  received(bytes: Buffer): boolean {
    if (this.state === 'head') {
      let got: [string, Buffer] | undefined;
      try {
        got = this.headReader.take(bytes);
      } catch (err) {
        this.conn.socket.destroy(err as Error);
        return false;
      }
      if (!got) return true;
      if (!this.readHead(got[0])) {
        // Not the object: the caller asks what it is; this connection is not reused.
        this.failure ??= codeError('ECONNRESET', 'S3 answer unreadable');
        this.state = 'failed';
        this.conn.exchange = undefined;
        this.conn.socket.destroy();
        this.answer.resolve();
        return false;
      }
      this.state = 'body';
      this.answer.resolve();
      bytes = got[1]; // an empty body finishes below
    }
    if (this.state !== 'body') return false;
    if (bytes.length > this.remaining) {
      this.conn.socket.destroy(codeError('ECONNRESET', 'S3 sent more than its Content-Length'));
      return false;
    }
    this.remaining -= bytes.length;
    const rest = this.deliver(bytes);
    if (this.remaining === 0 && rest.length === 0) this.finish();
    if (rest.length === 0) return true;
    this.leftover = rest;
    return false;
  }

  /** Copies bytes into the read waiting for them (the one at the cursor), and on; returns what none wanted yet. */
  private deliver(bytes: Buffer): Buffer {
    let at = 0;
    while (at < bytes.length) {
      const i = this.reads.findIndex((r) => r.position + r.filled === this.cursor);
      if (i < 0) break;
      const r = this.reads[i]!;
      const n = Math.min(r.length - r.filled, bytes.length - at);
      bytes.copy(r.buffer, r.filled, at, at + n);
      r.filled += n;
      at += n;
      this.cursor += n;
      if (r.filled === r.length) {
        this.reads.splice(i, 1);
        r.resolve(r.filled);
      }
    }
    return bytes.subarray(at);
  }

  /** The body is all in: the connection goes back (or closes), reads still waiting get what they have. */
  private finish(): void {
    if (this.state === 'done') return;
    this.state = 'done';
    for (const r of this.reads.splice(0)) r.resolve(r.filled);
    if (this.keepAlive) this.done(this.conn);
    else {
      this.conn.exchange = undefined;
      this.conn.socket.destroy();
    }
  }

  fail(err: unknown): void {
    if (this.state === 'done' || this.state === 'failed') return;
    this.state = 'failed';
    this.failure = err;
    this.conn.exchange = undefined;
    for (const r of this.reads.splice(0)) r.reject(err);
    this.answer.resolve();
  }

  /** Reads the answer's head; false when this is not the object's bytes. */
  private readHead(text: string): boolean {
    const head = parseHead(text);
    if (!head) return false;
    this.status = head.status;
    this.keepAlive = head.keepAlive;
    const length = head.length;
    if (head.chunked || length === undefined || !Number.isSafeInteger(length)) return false;
    let total: number | undefined;
    const r = /^bytes (\d+)-(\d+)\/(\d+)$/.exec(head.headers.get('content-range') ?? '');
    if (r && Number(r[1]) === this.offset) total = Number(r[3]);
    if (this.status === 200 && this.offset === 0) {
      this.size = length;
    } else if (this.status === 206 && this.offset > 0 && total !== undefined) {
      this.size = total;
    } else {
      return false;
    }
    this.remaining = length;
    return true;
  }

  /**
   * Reads must together cover the object from the GET's offset in order, without gaps (several
   * may wait at once, as downloads read ahead); a read at a byte already passed fails.
   */
  read(buffer: Uint8Array, length: number, position: number): Promise<number> {
    if (position < this.cursor) {
      return Promise.reject(new Error(`S3 object reads go forward: asked for byte ${position}, ${this.cursor} is next`));
    }
    if (this.state === 'failed') return Promise.reject(this.failure);
    return new Promise<number>((resolve, reject) => {
      this.reads.push({ position, buffer, length, filled: 0, resolve, reject });
      if (this.leftover) {
        const rest = this.deliver(this.leftover);
        this.leftover = rest.length > 0 ? rest : undefined;
        if (!this.leftover) {
          if (this.remaining === 0) this.finish();
          else this.conn.socket.resume();
        }
      }
      if (this.state === 'done') for (const r of this.reads.splice(0)) r.resolve(r.filled);
    });
  }

  /** Ends the GET: a body not read to its end closes its connection. */
  async close(): Promise<void> {
    if (this.state === 'done') return;
    this.fail(codeError('ECONNABORTED', 'S3 object read closed early'));
    this.conn.socket.destroy();
  }
}
