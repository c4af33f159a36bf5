import type { AddressInfo } from 'node:net';
import type net from 'node:net';
import type { Config } from '../config/types.js';

/**
 * Listens on http.addr (host:port, or with http.net unix a socket path) and resolves with the
 * registry's base URL: "http(s)://host:port" (a wildcard host shown as 127.0.0.1), or
 * "unix:<path>". A single process binds its own server; with workers the primary binds and hands
 * connections out (src/cluster/dealer.ts).
 */
export async function bind(server: net.Server, config: Config): Promise<string> {
  if (config.http.net !== 'unix') return bindTcp(server, config.http.addr, config.http.tls ? 'https' : 'http');
  await listening(server, () => server.listen(config.http.addr));
  return `unix:${config.http.addr}`;
}

/** Listens on a host:port (the registry's, the debug server's) and resolves with its URL. */
export async function bindTcp(server: net.Server, addr: string, scheme: string): Promise<string> {
  const { host, port } = splitAddr(addr);
  await listening(server, () => server.listen(port, host));
  const { address, port: bound, family } = server.address() as AddressInfo;
  const shown = address === '::' || address === '0.0.0.0' ? '127.0.0.1' : family === 'IPv6' ? `[${address}]` : address;
  return `${scheme}://${shown}:${bound}`;
}

function listening(server: net.Server, listen: () => void): Promise<void> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.once('listening', () => resolve());
    listen();
  });
}

/** The TCP port of a URL `bind` returned (0 for a unix socket). */
export function portOf(url: string): number {
  return url.startsWith('unix:') ? 0 : Number(new URL(url).port);
}

/** ":5000", "127.0.0.1:5000", "[::1]:5000", "localhost:0" → host and port. */
function splitAddr(addr: string): { host: string | undefined; port: number } {
  const m = /^(?:\[([^\]]+)\]|([^:]*)):(\d+)$/.exec(addr);
  if (!m) throw new Error(`http.addr: expected host:port, got "${addr}"`);
  return { host: m[1] ?? (m[2] || undefined), port: Number(m[3]) };
}
