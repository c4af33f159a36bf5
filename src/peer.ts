import type { IncomingMessage } from 'node:http';
import type { Socket } from 'node:net';
import type { TLSSocket } from 'node:tls';

/**
 * What a request's connection says about its client, read once when the request arrives.
 * `req.socket` is null (HTTP/1) or unbound (HTTP/2) once the response has finished or the client
 * has gone, so code that may run then (access log, metrics, notifications, a failed login's log
 * line) reads this instead.
 */
export interface Peer {
  readonly address: string | undefined;
  readonly port: number | undefined;
  readonly encrypted: boolean;
  /** The connection itself, for byte counters (a socket's counters stay readable after it closes). */
  readonly socket: Socket | undefined;
}

const PEER = Symbol.for('berth.peer');
type WithPeer = IncomingMessage & { [PEER]?: Peer };
const GONE: Peer = { address: undefined, port: undefined, encrypted: false, socket: undefined };

/** The request's peer: recorded on the first call (the API layer calls it first thing), then kept. */
export function peerOf(req: IncomingMessage): Peer {
  const held = req as WithPeer;
  if (held[PEER]) return held[PEER];
  let peer = GONE;
  try {
    const socket = req.socket as TLSSocket | null;
    if (socket) peer = { address: socket.remoteAddress, port: socket.remotePort, encrypted: Boolean(socket.encrypted), socket };
  } catch {
    // an HTTP/2 stream already closed: its socket proxy throws; nothing is known of the peer
  }
  return (held[PEER] = peer);
}
