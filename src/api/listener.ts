import http from 'node:http';
import http2 from 'node:http2';
import https from 'node:https';
import net from 'node:net';
import type { Config } from '../config/types.js';
import { armBody } from './body/socket-reads.js';

/** The listening server, with the two ways of ending its connections that a graceful close needs. */
export interface Listener {
  readonly server: net.Server;
  /** Ends connections with nothing in flight (HTTP/2 sessions stop taking new streams). */
  closeIdle(): void;
  /** Ends every connection now. */
  closeAll(): void;
}

// Blob uploads may take as long as they take; headers must still arrive promptly.
const TIMEOUTS = { requestTimeout: 0, headersTimeout: 60_000, keepAliveTimeout: 65_000 };
export type Timeouts = typeof TIMEOUTS;

/**
 * Plain HTTP/1.1 (with http.h2c.enabled, cleartext HTTP/2 too), or with http.tls HTTPS that offers
 * HTTP/2 by ALPN (falling back to HTTP/1.1 for clients that do not ask for it), unless
 * http.http2.disabled. Handlers see Node's HTTP/2 compatibility request and response, which
 * behave as HTTP/1's for everything Berth uses.
 */
export async function createListener(config: Config, handler: http.RequestListener, timeouts: Timeouts = TIMEOUTS): Promise<Listener> {
  const tls = config.http.tls;
  if (!tls && config.http.h2c?.enabled) return cleartext(handler, timeouts);
  if (!tls) return http1(http.createServer(timeouts, readingBodies(handler)));
  const { enforceClientAuth, tlsServerOptions } = await import('../auth/tls.js');
  if (config.http.http2?.disabled) {
    const server = https.createServer({ ...timeouts, ...tlsServerOptions(tls) }, handler);
    enforceClientAuth(server, tls);
    return http1(server);
  }
  const server = http2.createSecureServer({ ...tlsServerOptions(tls), allowHTTP1: true }, handler as unknown as (req: http2.Http2ServerRequest, res: http2.Http2ServerResponse) => void);
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

/** The first bytes of every HTTP/2 connection (RFC 9113, 3.4). */
const PREFACE = Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n');

/**
 * http.h2c: HTTP/2 without TLS for clients that start with it ("prior knowledge", what load
 * balancers such as Cloud Run's send), HTTP/1.1 for every other client, on the same port. Each
 * connection's first bytes decide; the `Upgrade: h2c` dance of HTTP/1.1 is not offered (Node has
 * no server side for it), so such a client simply goes on with HTTP/1.1.
 */
function cleartext(handler: http.RequestListener, timeouts: Timeouts): Listener {
  const h1 = http.createServer(timeouts, readingBodies(handler));
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
