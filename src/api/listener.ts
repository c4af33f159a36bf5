import http from 'node:http';
import http2 from 'node:http2';
import https from 'node:https';
import type net from 'node:net';
import type { Config } from '../config/types.js';

/** The listening server, with the two ways of ending its connections that a graceful close needs. */
export interface Listener {
  readonly server: net.Server;
  /** Ends connections with nothing in flight (HTTP/2 sessions stop taking new streams). */
  closeIdle(): void;
  /** Ends every connection now. */
  closeAll(): void;
}

// Blob uploads may take as long as they take; headers must still arrive promptly.
const timeouts = { requestTimeout: 0, headersTimeout: 60_000, keepAliveTimeout: 65_000 };

/**
 * Plain HTTP/1.1, or with http.tls HTTPS that offers HTTP/2 by ALPN (falling back to HTTP/1.1 for
 * clients that do not ask for it), unless http.http2.disabled. Handlers see Node's HTTP/2
 * compatibility request and response, which behave as HTTP/1's for everything Berth uses.
 */
export async function createListener(config: Config, handler: http.RequestListener): Promise<Listener> {
  const tls = config.http.tls;
  if (!tls) return http1(http.createServer(timeouts, handler));
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

function http1(server: http.Server): Listener {
  return { server, closeIdle: () => server.closeIdleConnections(), closeAll: () => server.closeAllConnections() };
}
