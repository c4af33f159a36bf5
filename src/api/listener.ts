import http from 'node:http';
import http2 from 'node:http2';
import https from 'node:https';
import net from 'node:net';
import { DEFAULT_HTTP_LIMITS, type Config, type HttpLimits } from '../config/types.js';
import { armBody } from './body/socket-reads.js';
import { hasBody } from './context.js';
import { RegistryResponse } from './response.js';

/** The listening server, with the two ways of ending its connections that a graceful close needs. */
export interface Listener {
  readonly server: net.Server;
  /** Ends connections with nothing in flight (HTTP/2 sessions stop taking new streams). */
  closeIdle(): void;
  /** Ends every connection now. */
  closeAll(): void;
}

export interface Timeouts {
  requestTimeout: number;
  headersTimeout: number;
  keepAliveTimeout: number;
  /** How often Node checks connections for the headers timeout (its default, 30 s, would let a 1 s limit run to 31 s). */
  connectionsCheckingInterval?: number;
}

/**
 * Node's server timeouts from berth.http (docs/operations.md, "Client limits"). A blob upload may
 * take as long as it takes as long as bytes keep coming (no whole-request timeout; the body
 * timeout is applied per request by withBodyTimeout); headers must arrive promptly.
 */
export function timeoutsOf(limits: HttpLimits): Timeouts {
  return {
    requestTimeout: 0,
    headersTimeout: limits.headerTimeoutMs,
    keepAliveTimeout: limits.keepAliveTimeoutMs,
    connectionsCheckingInterval: Math.min(30_000, Math.max(100, Math.floor(limits.headerTimeoutMs / 4))),
  };
}

/**
 * Ends a request whose body makes no progress for `ms` while the server is waiting for it (a
 * client that stalls mid-upload would otherwise hold its connection and upload lock forever).
 * A pause the server causes itself (it stopped reading: storage slower than the client) does not
 * count, nor does the time the answer takes once the body is in. The request is destroyed,
 * which the handlers take as a client gone away: the upload keeps what was written before, and
 * the client resumes from the Range it is told.
 */
function withBodyTimeout(handler: http.RequestListener, ms: number): http.RequestListener {
  if (ms <= 0) return handler;
  return (req, res) => {
    if (bodyMayCome(req)) {
      const onTimeout = () => {
        if (req.complete) return;
        // The server is behind (backpressure), not the client: it stopped reading the socket
        // (Node's server and socket-reads.ts both readStop its handle), or bytes wait in the stream.
        if (serverStoppedReading(req)) req.setTimeout(ms);
        else req.destroy(new Error(`request body idle for ${ms} ms`));
      };
      req.setTimeout(ms, onTimeout);
      // Once the body is in, the answer takes as long as it takes (keep-alive is set when it ends).
      // A timeout firing then is not the request's (it is complete) and Node would end the
      // connection unless the response takes it; nothing else marks the end of a body read
      // from the socket (body/), so the response takes it and clears the timeout.
      res.on('timeout', () => {
        if (req.complete) req.setTimeout(0);
      });
    }
    handler(req, res);
  };
}

/**
 * Plain HTTP/1.1 (with http.h2c.enabled, cleartext HTTP/2 too), or with http.tls HTTPS that offers
 * HTTP/2 by ALPN (falling back to HTTP/1.1 for clients that do not ask for it), unless
 * http.http2.disabled. Handlers see Node's HTTP/2 compatibility request and response, which
 * behave as HTTP/1's for everything Berth uses.
 */
export async function createListener(config: Config, handler: http.RequestListener, timeouts?: Timeouts): Promise<Listener> {
  const limits = config.httpLimits ?? DEFAULT_HTTP_LIMITS;
  const listener = await listen(config, withBodyTimeout(handler, limits.bodyTimeoutMs), timeouts ?? timeoutsOf(limits));
  // Past the limit Node closes each new connection as it arrives; those open are not touched.
  if (limits.maxConnections > 0) listener.server.maxConnections = limits.maxConnections;
  return listener;
}

async function listen(config: Config, handler: http.RequestListener, timeouts: Timeouts): Promise<Listener> {
  const tls = config.http.tls;
  if (!tls && config.http.h2c?.enabled) return cleartext(handler, timeouts);
  if (!tls) return http1(http.createServer({ ...timeouts, ServerResponse: RegistryResponse }, readingBodies(handler)));
  const { enforceClientAuth, tlsServerOptions } = await import('../auth/tls.js');
  if (config.http.http2?.disabled) {
    const server = https.createServer({ ...timeouts, ...tlsServerOptions(tls), ServerResponse: RegistryResponse }, handler);
    enforceClientAuth(server, tls);
    return http1(server);
  }
  const server = http2.createSecureServer({ ...tlsServerOptions(tls), allowHTTP1: true, Http1ServerResponse: RegistryResponse }, handler as unknown as (req: http2.Http2ServerRequest, res: http2.Http2ServerResponse) => void);
  enforceClientAuth(server as unknown as https.Server, tls);
  const sockets = new Set<net.Socket>();
  const sessions = new Set<http2.ServerHttp2Session>();
  server.on('secureConnection', (socket: net.Socket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
  });
  server.on('session', (session) => {
    sessions.add(session);
    session.once('close', () => sessions.delete(session));
  });
  return {
    server,
    closeIdle: () => {
      for (const session of sessions) session.close();
    },
    closeAll: () => {
      for (const socket of sockets) socket.destroy();
    },
  };
}

/**
 * On plain HTTP/1.1 connections, upload bodies are read from the socket into the upload's blocks
 * (src/api/body/socket-reads.ts); each request is looked at before its handler runs, while the
 * read that brought it is still being parsed.
 */
function readingBodies(handler: http.RequestListener): http.RequestListener {
  return (req, res) => {
    armBody(req);
    handler(req, res);
  };
}

function http1(server: http.Server): Listener {
  return { server, closeIdle: () => server.closeIdleConnections(), closeAll: () => server.closeAllConnections() };
}

/**
 * Whether the request's body may still be on its way. An HTTP/1.1 request without Content-Length
 * or Transfer-Encoding has none (RFC 9112, 6.3): most requests (pulls), which then arm no timer.
 * An HTTP/2 request's body ends when its stream does.
 */
function bodyMayCome(req: http.IncomingMessage): boolean {
  if (req.complete) return false;
  return req.httpVersionMajor !== 1 || hasBody(req);
}

function serverStoppedReading(req: http.IncomingMessage): boolean {
  if (req.readableLength >= req.readableHighWaterMark) return true;
  if (req.httpVersionMajor !== 1) return false;
  const handle = (req.socket as net.Socket & { _handle?: { reading?: boolean } | null })._handle;
  return handle?.reading === false;
}

/** The first bytes of every HTTP/2 connection (RFC 9113, 3.4). */
const PREFACE = Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n');

/**
 * http.h2c: HTTP/2 without TLS for clients that start with it ("prior knowledge", what load
 * balancers such as Cloud Run's send), HTTP/1.1 for every other client, on the same port. Each
 * connection's first bytes decide; the `Upgrade: h2c` dance of HTTP/1.1 is not offered (Node has
 * no server side for it), so such a client simply goes on with HTTP/1.1.
 */
function cleartext(handler: http.RequestListener, timeouts: Timeouts): Listener {
  const h1 = http.createServer({ ...timeouts, ServerResponse: RegistryResponse }, readingBodies(handler));
  const h2 = http2.createServer({}, handler as unknown as (req: http2.Http2ServerRequest, res: http2.Http2ServerResponse) => void);
  const sockets = new Set<net.Socket>();
  const sessions = new Set<http2.ServerHttp2Session>();
  h2.on('session', (session) => {
    sessions.add(session);
    session.once('close', () => sessions.delete(session));
  });
  const server = net.createServer((socket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
    let seen = Buffer.alloc(0);
    // A connection that says nothing is closed as HTTP/1's headersTimeout would close it.
    socket.setTimeout(timeouts.headersTimeout, () => socket.destroy());
    const decide = (): void => {
      for (let chunk: Buffer | null; (chunk = socket.read() as Buffer | null) !== null; ) seen = Buffer.concat([seen, chunk]);
      const n = Math.min(seen.length, PREFACE.length);
      const prefix = seen.subarray(0, n).equals(PREFACE.subarray(0, n));
      if (prefix && n < PREFACE.length) return; // not enough bytes to tell yet
      socket.off('readable', decide);
      socket.setTimeout(0);
      socket.unshift(seen);
      (prefix ? h2 : h1).emit('connection', socket);
    };
    socket.on('readable', decide);
  });
  // h1 never listens itself: it checks its connections' timeouts while the server it is given them by listens.
  server.on('listening', () => h1.emit('listening'));
  server.on('close', () => h1.close());
  return {
    server,
    closeIdle: () => {
      h1.closeIdleConnections();
      for (const session of sessions) session.close();
    },
    closeAll: () => {
      for (const socket of sockets) socket.destroy();
    },
  };
}
