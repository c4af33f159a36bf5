import type { IncomingMessage } from 'node:http';
import type { Socket } from 'node:net';
import { RegistryError } from '../../oci/errors.js';
import { BodyBlocks, readableBody, type BodySink, type UploadBody } from '../../storage/upload-body.js';
import { ChunkedFraming, FramingError, LengthFraming, type Framing } from './framing.js';

/**
 * Upload bodies read straight from the connection's socket into the upload's own blocks.
 *
 * Node's HTTP server reads a plain connection in C++ (its parser consumes the socket) and copies
 * every piece of a body into a fresh 64 KiB buffer handed to JavaScript: a gigabyte pushed made
 * 16,000 buffers, their stream events and promises, and the garbage collections they cause, about
 * half of an upload's CPU (docs/performance.md). Here, once the first read of an upload request
 * has been parsed, the socket is switched to reading into memory Berth provides (Node's `onread`
 * mode for sockets, turned on for an accepted socket): the body's bytes land in the upload's
 * blocks where they are hashed and from where they are written, with no copy and no allocation.
 *
 * Node's parser still sees every byte, so it keeps the connection's state (keep-alive, the next
 * request, errors) exactly as before: each read is passed to it, the body's part with its body
 * callback switched off (so it copies nothing), the rest as usual. This module finds where the
 * body's bytes are itself (framing.ts) and checks that the parser ends the message at the same
 * byte; when they disagree the request fails and the connection is closed.
 *
 * The read that brought an upload's headers is looked at raw (the body's first bytes are in it):
 * while the socket is still Node's, the parser copies it for us (getCurrentBuffer); once it is
 * ours, it is the read being forwarded, and only the bytes after the headers are kept. Either way
 * the parser's body callback is off for the rest of that read, so the parser does not copy those
 * bytes a second time into the request stream; if the body ends up read through the stream after
 * all, they are given to it first (SocketBody.giveTail).
 *
 * It relies on parts of Node that are not public API (the socket's onread symbols, its handle's
 * useUserBuffer, the parser's callbacks and unconsume), found by name on the first socket;
 * where any is missing, and for TLS, HTTP/2, or a request whose headers did not start its read,
 * bodies are read through the request stream as before (upload-body.ts readableBody).
 */

interface Handle {
  reading: boolean;
  readStart(): number;
  readStop(): number;
  useUserBuffer(buffer: Uint8Array): void;
}

interface Parser {
  execute(data: Uint8Array): number | Error;
  getCurrentBuffer(): Buffer;
  unconsume(): void;
  _consumed?: boolean;
  [index: number]: unknown;
}

type ReadSocket = Socket & { parser?: Parser | null; _handle?: Handle | null; _paused?: boolean; [key: symbol]: unknown };

/** What this needs of Node, found on the first socket; null when anything is missing. */
interface Internals {
  buffer: symbol;
  callback: symbol;
  generator: symbol;
}

let internals: Internals | null | undefined;

function internalsOf(socket: ReadSocket): Internals | null {
  if (internals !== undefined) return internals;
  const symbols = Object.getOwnPropertySymbols(socket);
  const named = (name: string) => symbols.find((s) => s.description === name);
  const buffer = named('kBuffer');
  const callback = named('kBufferCb');
  const generator = named('kBufferGen');
  internals = buffer && callback && generator ? { buffer, callback, generator } : null;
  return internals;
}

/** Index of the parser's callback that is a function of this name. */
function callbackIndex(parser: Parser, name: string): number | undefined {
  for (const key of Object.keys(parser)) {
    const index = Number(key);
    if (Number.isInteger(index) && typeof parser[index] === 'function' && (parser[index] as { name: string }).name === name) return index;
  }
  return undefined;
}

function listenerNamed(socket: Socket, event: string, name: string): ((...args: unknown[]) => void) | undefined {
  return socket.listeners(event).find((f) => f.name === name) as ((...args: unknown[]) => void) | undefined;
}

/** Where reads go between bodies: parsed at once, so one buffer serves every connection. */
const idleBuffer = Buffer.allocUnsafeSlow(64 * 1024);

/** Bodies read whole from the socket in this process (tests check that they took this path). */
export const socketReadCount = { bodies: 0 };

const CONNECTION = Symbol('berth.socketReads');
const ARMED = Symbol('berth.armedBody');

/**
 * Called as each request arrives, before any handler: prepares an upload request's body for
 * reading from the socket. Only for requests whose body goes on after the first read.
 */
export function armBody(req: IncomingMessage): void {
  try {
    arm(req);
  } catch {
    // the body is read through the request stream
  }
}

function arm(req: IncomingMessage): void {
  const method = req.method;
  if ((method !== 'PATCH' && method !== 'PUT' && method !== 'POST') || !req.url?.includes('/blobs/uploads')) return;
  const socket = req.socket as ReadSocket;
  const parser = socket.parser;
  if (!parser || !socket._handle?.useUserBuffer || 'encrypted' in socket || socket.destroyed) return;
  const framing = framingOf(req);
  if (!framing || !internalsOf(socket)) return;
  const connection = (socket[CONNECTION] as SocketReads | undefined) ?? SocketReads.attach(socket, parser);
  if (!connection) return;
  // The read being parsed must start with this request, so that its body's first bytes are the
  // ones after the header section's blank line. One we forwarded is at hand; Node's own is copied.
  const forwarded = connection.forwarding;
  const current = forwarded ?? parser.getCurrentBuffer();
  const line = Buffer.from(`${method} ${req.url} HTTP/${req.httpVersion}\r\n`, 'latin1');
  if (current.length < line.length || !current.subarray(0, line.length).equals(line)) return;
  const headerEnd = current.indexOf('\r\n\r\n');
  if (headerEnd < 0) return;
  let tail = current.subarray(headerEnd + 4);
  const spans: number[] = [];
  try {
    if (framing.scan(tail, spans) >= 0) return; // the whole body came with the headers
  } catch {
    return; // the parser answers malformed framing itself
  }
  // A forwarded read lies in memory the next reads reuse (the shared idle buffer, a body's block).
  if (forwarded) tail = Buffer.from(tail);
  const body = new SocketBody(req, connection, framing, tail, spans);
  (req as IncomingMessage & { [ARMED]?: SocketBody })[ARMED] = body;
  connection.arm(body);
}

/** The request's body for an upload: read from the socket when armBody prepared that, else through the request stream. */
export function requestBody(req: IncomingMessage): UploadBody {
  return (req as IncomingMessage & { [ARMED]?: SocketBody })[ARMED] ?? readableBody(req, declaredLength(req));
}

function framingOf(req: IncomingMessage): Framing | undefined {
  const te = req.headers['transfer-encoding'];
  if (te !== undefined) return te.trim().toLowerCase() === 'chunked' ? new ChunkedFraming() : undefined;
  const length = declaredLength(req);
  return length !== undefined && length > 0 ? new LengthFraming(length) : undefined;
}

/** The body's length from Content-Length, unless the body is framed otherwise (or the header is bad). */
function declaredLength(req: IncomingMessage): number | undefined {
  if (req.headers['transfer-encoding'] !== undefined) return undefined;
  const length = Number(req.headers['content-length']);
  return Number.isSafeInteger(length) && length >= 0 ? length : undefined;
}

/** One connection read by Berth: between bodies every read goes to the server's parser as it came. */
class SocketReads {
  /** The body armed or being read, if any. */
  private body: SocketBody | undefined;
  /** The memory the next read goes to (what the generator last handed out). */
  private space: Buffer = idleBuffer;
  private switched = false;
  /** The read forward() is handing to the parser, while the parser parses it. */
  forwarding: Buffer | undefined;

  private constructor(
    readonly socket: ReadSocket,
    readonly parser: Parser,
    private readonly onBody: number,
    /** The parser's body callback (Node's parserOnBody: it pushes each piece to the request stream). */
    private readonly onBodyCallback: (piece: Buffer) => void,
    private readonly serverOnData: (data: Buffer) => void,
  ) {}

  static attach(socket: ReadSocket, parser: Parser): SocketReads | undefined {
    const onBody = callbackIndex(parser, 'parserOnBody');
    const serverOnData = listenerNamed(socket, 'data', 'bound socketOnData');
    if (onBody === undefined || !serverOnData) return undefined;
    const reads = new SocketReads(socket, parser, onBody, parser[onBody] as (piece: Buffer) => void, serverOnData);
    socket[CONNECTION] = reads;
    // Node reuses parsers across connections: whatever happened, this one leaves with its body callback.
    socket.once('close', () => reads.restoreOnBody());
    return reads;
  }

  get handle(): Handle | null | undefined {
    return this.socket._handle;
  }

  /** A body waits for its reader: the socket reads nothing until it starts (or until someone else reads, see onRead). */
  arm(body: SocketBody): void {
    this.body = body;
    if (this.switched) {
      this.stopReading();
      // The rest of the read being forwarded is this body's: forward() turns the callback back on.
      if (this.forwarding) this.holdFirstRead(body);
      return;
    }
    // Still read by the parser in C++: switch once it has finished with the read it is parsing,
    // where Node itself switches an upgraded connection (its onExecute callback).
    const parser = this.parser;
    const onExecute = parser._consumed ? callbackIndex(parser, 'bound onParserExecute') : undefined;
    if (onExecute === undefined) {
      this.body = undefined;
      body.abandon();
      return;
    }
    const original = parser[onExecute] as (...args: unknown[]) => void;
    this.holdFirstRead(body);
    parser[onExecute] = (...args: unknown[]) => {
      parser[onExecute] = original;
      this.restoreOnBody();
      original(...args);
      if (this.socket.destroyed || this.body !== body || !this.switchToOwnReads()) {
        if (this.body === body) this.body = undefined;
        body.abandon();
        return;
      }
      // A handler with nothing to wait for (in-memory storage) reaches deliver() before this
      // runs: its body reads from here on. Otherwise reading waits for deliver().
      if (body.reading) this.startReading();
      else this.stopReading();
    };
  }

  /**
   * The parser passes the rest of the read it is parsing (the body's first bytes) to nobody: the
   * body has them in its tail, and copying them into the request stream would be a second copy.
   */
  private holdFirstRead(body: SocketBody): void {
    this.parser[this.onBody] = undefined;
    body.held = true;
  }

  restoreOnBody(): void {
    this.parser[this.onBody] = this.onBodyCallback;
  }

  /** Bytes of the body being parsed to its request stream, as the parser's body callback gives them. */
  toStream(req: IncomingMessage, piece: Buffer): void {
    if ((this.parser as Parser & { incoming?: unknown }).incoming === req) this.onBodyCallback.call(this.parser, piece);
  }

  /** Moves the socket from the parser's C++ reads to reads into our memory (onread), for good. */
  private switchToOwnReads(): boolean {
    const socket = this.socket;
    const handle = this.handle;
    const pause = listenerNamed(socket, 'pause', 'onSocketPause');
    const resume = listenerNamed(socket, 'resume', 'onSocketResume');
    const ours = internals;
    if (!handle || !pause || !resume || !ours || !this.parser._consumed) return false;
    // What the server's unconsume() does: the parser stops reading the socket itself.
    this.parser.unconsume();
    this.parser._consumed = false;
    socket.removeListener('pause', pause);
    socket.removeListener('resume', resume);
    socket[ours.buffer] = idleBuffer;
    socket[ours.generator] = () => this.nextSpace();
    socket[ours.callback] = (n: number, buffer: Buffer) => this.onRead(n, buffer);
    handle.useUserBuffer(idleBuffer);
    this.space = idleBuffer;
    this.switched = true;
    return true;
  }

  stopReading(): void {
    const handle = this.handle;
    if (handle?.reading) {
      handle.reading = false;
      handle.readStop();
    }
  }

  /** Reads on, once the socket is ours (until then Node's parser reads it, and the switch starts our reads). */
  startReading(): void {
    const handle = this.handle;
    // A body that holds on (waiting for storage or for a block) is read on by its resume().
    if (this.body?.reading && this.body.holding) return;
    if (this.switched && handle && !handle.reading && !this.socket._paused && !this.socket.destroyed) {
      // A body that held no block while it waited (upload-body.ts) reads into one from here on.
      if (this.space === idleBuffer && this.body?.reading) this.use(this.nextSpace());
      handle.reading = true;
      handle.readStart();
    }
  }

  /** The body is done with the socket (read whole, or given up): reads go to the parser again. */
  release(body: SocketBody): void {
    if (this.body !== body) return;
    this.body = undefined;
    // The socket may still hold a pointer into the body's block, which goes back to the pool.
    if (this.space !== idleBuffer) this.use(idleBuffer);
    this.space = idleBuffer;
  }

  /** Points the socket's next read at `buffer`. */
  private use(buffer: Buffer): void {
    if (this.socket.destroyed || !internals) return;
    this.socket[internals.buffer] = buffer;
    this.handle?.useUserBuffer(buffer);
  }

  private nextSpace(): Buffer {
    this.space = (this.body?.reading && this.body.space()) || idleBuffer;
    return this.space;
  }

  private onRead(n: number, buffer: Buffer): void {
    const view = buffer.subarray(0, n);
    const body = this.body;
    try {
      if (!body?.reading) {
        // An armed body nobody is reading is being discarded (the answer went out first, and
        // Node drains what is left): give the connection back to the parser.
        if (body) {
          this.body = undefined;
          body.abandon();
        }
        this.forward(view);
        return;
      }
      const end = body.take(view, buffer === this.space && buffer !== idleBuffer);
      if (end >= 0 && end < n) this.forward(view.subarray(end));
    } catch (err) {
      this.socket.destroy(err instanceof Error ? err : new Error(String(err)));
    }
  }

  /** Bytes outside any body read here: to the server as a socket read. */
  forward(view: Buffer): void {
    if (this.socket._paused) {
      // The server holds the connection (answers pending): it takes these when it resumes.
      this.socket.unshift(Buffer.from(view));
      return;
    }
    this.forwarding = view;
    try {
      this.serverOnData(view);
    } finally {
      this.forwarding = undefined;
      this.restoreOnBody();
    }
  }

  /** The message's bytes to the parser without its body callback (it would copy each piece). */
  parseQuietly(view: Buffer): number | Error {
    const parser = this.parser;
    const onBody = parser[this.onBody];
    parser[this.onBody] = undefined;
    try {
      return parser.execute(view);
    } finally {
      parser[this.onBody] = onBody;
    }
  }
}

/** One upload request's body, read from its socket. */
class SocketBody implements UploadBody {
  private blocks: BodyBlocks | undefined;
  private settle: ((err?: unknown, dropRest?: boolean) => void) | undefined;
  private readonly spans: number[] = [];
  private abandoned = false;
  reading = false;
  /** The parser passed none of the first read's body bytes to the request stream: they are only in `tail`. */
  held = false;

  constructor(
    private readonly req: IncomingMessage,
    private readonly connection: SocketReads,
    private readonly framing: Framing,
    /** Raw bytes after the header section in the request's first read, with the body parts in them. */
    private readonly tail: Buffer,
    private readonly tailSpans: number[],
  ) {}

  /** Where the next read goes, or nothing while the blocks hold on (no block is taken for it then). */
  space(): Buffer | undefined {
    return this.holding ? undefined : this.blocks!.space();
  }

  /** Reading waits: for storage, or for a block from the pool (upload-body.ts). */
  get holding(): boolean {
    return this.blocks?.holding ?? false;
  }

  /** The socket could not be switched, or someone else read the body first: it is read through the request stream. */
  abandon(): void {
    this.abandoned = true;
    this.giveTail();
  }

  /** The first read's body bytes go to the request stream after all, ahead of the rest, as the parser would have given them. */
  private giveTail(): void {
    if (!this.held) return;
    this.held = false;
    if (this.req.complete || this.req.destroyed) return;
    const spans = this.tailSpans;
    for (let i = 0; i < spans.length; i += 2) this.connection.toStream(this.req, Buffer.from(this.tail.subarray(spans[i], spans[i + 1])));
  }

  deliver(sink: BodySink): Promise<number> {
    const req = this.req;
    // Unless held, the parser passed the first read's body to the request stream too: those same
    // bytes are taken from the raw read, and what the stream holds is dropped, unless it holds
    // other bytes than expected (then everything goes through the stream).
    const early = this.held ? 0 : spanBytes(this.tailSpans);
    if (this.abandoned || this.reading || req.readableLength !== early || req.complete || req.destroyed) {
      this.connection.release(this);
      return readableBody(req, declaredLength(req)).deliver(sink);
    }
    return new Promise<number>((resolve, reject) => {
      const connection = this.connection;
      this.reading = true;
      while (req.read() !== null) {
        // dropped: the same bytes come from the raw read below
      }
      // The first read's body bytes go in first, once the body may take a block (it may have to
      // wait for one): only then does the socket read on.
      let begun = false;
      const begin = (): void => {
        begun = true;
        for (let i = 0; i < this.tailSpans.length; i += 2) blocks.copy(this.tail.subarray(this.tailSpans[i], this.tailSpans[i + 1]));
      };
      const blocks = new BodyBlocks(sink, {
        pause: () => {
          if (this.reading) connection.stopReading();
        },
        resume: () => {
          if (!this.reading) return;
          if (!begun) begin();
          connection.startReading();
        },
        failed: (err) => this.fail(err),
      }, declaredLength(req));
      this.blocks = blocks;
      let done = false;
      this.settle = (err?: unknown, dropRest = true) => {
        if (done) return;
        done = true;
        this.reading = false;
        connection.socket.off('close', onClose);
        connection.release(this);
        // Reading may have stopped while blocks waited for storage: the parser reads on (the next
        // request, or the rest of a failed body) unless the body's framing is broken.
        if (err === undefined || dropRest) connection.startReading();
        if (err === undefined) {
          socketReadCount.bodies++;
          blocks.end().then(resolve, reject);
          return;
        }
        // The rest of the body is left to the parser and dropped, so the connection stays usable.
        if (!req.complete && dropRest) req.resume();
        void blocks.abort().then(() => reject(err));
      };
      const onClose = (): void => this.fail(req.errored ?? prematureClose());
      connection.socket.on('close', onClose);
      if (connection.socket.destroyed) return this.fail(req.errored ?? prematureClose());
      if (!blocks.holding) {
        begin();
        connection.startReading();
      }
    });
  }

  private fail(err: unknown, dropRest = true): void {
    this.settle?.(err, dropRest);
  }

  /**
   * One read of the socket during the body: returns the offset just past the message's end when
   * it ends in `view`, else -1. `inPlace`: the read landed in the current block's free space.
   */
  take(view: Buffer, inPlace: boolean): number {
    const spans = this.spans;
    spans.length = 0;
    let end: number;
    try {
      end = this.framing.scan(view, spans);
    } catch (err) {
      if (!(err instanceof FramingError)) throw err;
      this.malformed(err.message);
      return -1;
    }
    const result = this.connection.parseQuietly(end < 0 ? view : view.subarray(0, end));
    if (result instanceof Error) {
      this.malformed((result as Error & { reason?: string }).reason ?? result.message);
      return -1;
    }
    const blocks = this.blocks!;
    if (inPlace) {
      const base = blocks.offset; // the read went to space(), which starts there
      for (let i = 0; i < spans.length; i += 2) blocks.compact(base + spans[i]!, spans[i + 1]! - spans[i]!);
    } else {
      for (let i = 0; i < spans.length; i += 2) blocks.copy(view.subarray(spans[i], spans[i + 1]));
    }
    if (end >= 0) {
      if (!this.req.complete) {
        this.malformed('the request body ended where the HTTP parser did not end it');
        return -1;
      }
      this.settle?.();
    }
    return end;
  }

  /**
   * The body's framing is broken: the request fails (400) and the connection closes after that
   * answer, since its parser's state is unknown; nothing more is read from it.
   */
  private malformed(reason: string): void {
    const connection = this.connection;
    connection.stopReading();
    const res = (connection.socket as ReadSocket & { _httpMessage?: { shouldKeepAlive: boolean } | null })._httpMessage;
    if (res) res.shouldKeepAlive = false;
    else connection.socket.destroy();
    this.fail(new RegistryError('BLOB_UPLOAD_INVALID', 'malformed request body', { reason }), false);
  }
}

function spanBytes(spans: number[]): number {
  let n = 0;
  for (let i = 0; i < spans.length; i += 2) n += spans[i + 1]! - spans[i]!;
  return n;
}

function prematureClose(): Error {
  return Object.assign(new Error('the connection closed before the request body ended'), { code: 'ERR_STREAM_PREMATURE_CLOSE' });
}
