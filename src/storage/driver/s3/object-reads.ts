import net from 'node:net';
import type { RandomAccessFile } from '../types.js';

/**
 * Object downloads over plain HTTP (an `http://` regionendpoint), past the SDK's stream: a
 * presigned GET is sent on a kept-alive socket that reads into two reused 256 KiB buffers (net's
 * `onread`), and each read is copied straight into the caller's buffer (RandomAccessFile.read, as
 * blob downloads use it: src/api/send-file.ts). Through the SDK each read is a fresh 64 KiB buffer
 * passed through the HTTP client's parser and two streams, paused and resumed against the
 * client's socket: several times the CPU per byte of the copy (docs/performance.md, "Pulls on
 * S3"). Only the answer's head is parsed here; any answer but 200/206 with a Content-Length is
 * left to the caller (`ObjectGet.status`), which asks the SDK what it means.
 */

const READ_BUFFER = 256 * 1024;
/** Longest response head taken (RGW's and S3's are well under 2 KiB). */
const MAX_HEAD = 64 * 1024;
/** Idle connections kept per driver, and how long each is kept. */
const MAX_IDLE = 16;
const IDLE_MS = 4000;

export interface ObjectReadsOptions {
  /** Milliseconds a request may wait for its answer's head, or between two reads of its body (0: no limit). */
  timeoutMs: number;
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

/** One connection: its socket, its two read buffers, and the GET it carries (if any). */
class Connection {
  readonly socket: net.Socket;
  private readonly buffers = [Buffer.allocUnsafeSlow(READ_BUFFER), Buffer.allocUnsafeSlow(READ_BUFFER)];
  private which = 0;
  get: ObjectGet | undefined;
  closed = false;

  constructor(host: string, port: number, onClose: (c: Connection) => void) {
    this.socket = net.connect({
      host,
      port,
      noDelay: true,
      onread: {
        buffer: () => this.buffers[(this.which ^= 1)]!,
        callback: (n: number, buf: Uint8Array) => {
          if (!this.get) {
            this.socket.destroy(codeError('ECONNRESET', 'S3 sent bytes on an idle connection'));
            return false;
          }
          return this.get.received((buf as Buffer).subarray(0, n));
        },
      },
    });
    this.socket.on('error', (err) => this.get?.fail(err));
    this.socket.on('close', () => {
      this.closed = true;
      this.get?.fail(codeError('ECONNRESET', 'S3 closed the connection'));
      onClose(this);
    });
    this.socket.on('timeout', () => this.socket.destroy(codeError('ETIMEDOUT', 'S3 did not answer in time')));
  }
}

/** Presigned GETs on a small pool of kept-alive connections to one host. */
export class ObjectReads {
  private readonly idle: Connection[] = [];
  private readonly host: string;
  private readonly port: number;
  private stopped = false;

  constructor(endpoint: URL, private readonly options: ObjectReadsOptions) {
    this.host = endpoint.hostname.replace(/^\[|\]$/g, '');
    this.port = Number(endpoint.port || 80);
  }

  /**
   * Sends a GET for `url` (presigned, on this host) from `offset`, and resolves once the answer's
   * head is in: `status` tells whether it is the object (200/206), `file` reads it.
   */
  async get(url: URL, offset: number): Promise<ObjectGet> {
    const reused = this.idle.pop();
    let get = await this.send(reused ?? this.connect(), url, offset);
    // A kept connection the server had already closed: once more on a new one.
    if (get.failedBeforeAnswer && reused) get = await this.send(this.connect(), url, offset);
    if (get.failedBeforeAnswer) throw get.failure;
    return get;
  }

  close(): void {
    this.stopped = true;
    for (const c of this.idle.splice(0)) c.socket.destroy();
  }

  private connect(): Connection {
    return new Connection(this.host, this.port, (c) => {
      const at = this.idle.indexOf(c);
      if (at >= 0) this.idle.splice(at, 1);
    });
  }

  private async send(conn: Connection, url: URL, offset: number): Promise<ObjectGet> {
    const get = new ObjectGet(conn, offset, (done) => this.release(done));
    conn.get = get;
    conn.socket.ref();
    conn.socket.resume(); // a connection may have been left paused by its last answer
    conn.socket.setTimeout(this.options.timeoutMs);
    const head = [
      `GET ${url.pathname}${url.search} HTTP/1.1`,
      `Host: ${url.host}`,
      ...(offset > 0 ? [`Range: bytes=${offset}-`] : []),
      'Accept-Encoding: identity',
      'User-Agent: berth',
      '',
      '',
    ].join('\r\n');
    conn.socket.write(head);
    await get.answered;
    return get;
  }

  /** A connection whose answer was read to its end goes back to the pool; any other is closed. */
  private release(conn: Connection): void {
    conn.get = undefined;
    if (this.stopped || conn.closed || this.idle.length >= MAX_IDLE) {
      conn.socket.destroy();
      return;
    }
    conn.socket.setTimeout(IDLE_MS);
    conn.socket.unref();
    this.idle.push(conn);
  }
}

/** One GET: its answer's head, then its body read into the callers' buffers in order. */
export class ObjectGet implements RandomAccessFile {
  status = 0;
  size = 0;
  /** Bytes of the body not yet received. */
  private remaining = 0;
  /** Object offset of the next body byte to arrive. */
  private cursor: number;
  private head: Buffer[] = [];
  private headBytes = 0;
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

  /** Bytes from the socket (a view of its read buffer, good until the socket reads again). False pauses reading. */
  received(bytes: Buffer): boolean {
    if (this.state === 'head') {
      this.head.push(Buffer.from(bytes));
      this.headBytes += bytes.length;
      const all = this.head.length === 1 ? this.head[0]! : Buffer.concat(this.head, this.headBytes);
      const end = all.indexOf('\r\n\r\n');
      if (end < 0) {
        if (this.headBytes > MAX_HEAD) this.conn.socket.destroy(codeError('ECONNRESET', 'S3 answer head too long'));
        return true;
      }
      this.head = [];
      if (!this.parseHead(all.subarray(0, end).toString('latin1'))) {
        // Not the object: the caller asks the SDK what it is; this connection is not reused.
        this.failure ??= codeError('ECONNRESET', 'S3 answer unreadable');
        this.state = 'failed';
        this.conn.get = undefined;
        this.conn.socket.destroy();
        this.answer.resolve();
        return false;
      }
      this.state = 'body';
      this.answer.resolve();
      bytes = all.subarray(end + 4); // an empty body finishes below
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
      this.conn.get = undefined;
      this.conn.socket.destroy();
    }
  }

  fail(err: unknown): void {
    if (this.state === 'done' || this.state === 'failed') return;
    this.state = 'failed';
    this.failure = err;
    this.conn.get = undefined;
    for (const r of this.reads.splice(0)) r.reject(err);
    this.answer.resolve();
  }

  /** Parses the status line and the headers that matter; false when this is not the object's bytes. */
  private parseHead(text: string): boolean {
    const lines = text.split('\r\n');
    const m = /^HTTP\/1\.([01]) (\d{3})/.exec(lines[0] ?? '');
    if (!m) return false;
    this.status = Number(m[2]);
    let length: number | undefined;
    let total: number | undefined;
    let chunked = false;
    this.keepAlive = m[1] === '1';
    for (const line of lines.slice(1)) {
      const colon = line.indexOf(':');
      if (colon < 0) continue;
      const name = line.slice(0, colon).trim().toLowerCase();
      const value = line.slice(colon + 1).trim();
      if (name === 'content-length') length = /^\d+$/.test(value) ? Number(value) : NaN;
      else if (name === 'transfer-encoding') chunked = true;
      else if (name === 'connection') this.keepAlive = !/close/i.test(value) && (m[1] === '1' || /keep-alive/i.test(value));
      else if (name === 'content-range') {
        const r = /^bytes (\d+)-(\d+)\/(\d+)$/.exec(value);
        if (r && Number(r[1]) === this.offset) total = Number(r[3]);
      }
    }
    if (chunked || length === undefined || !Number.isSafeInteger(length)) return false;
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
