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
  const scheme = config.http.tls ? 'https' : 'http';
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    if (config.http.net === 'unix') server.listen(config.http.addr, () => resolve());
    else {
      const { host, port } = splitAddr(config.http.addr);
      server.listen(port, host, () => resolve());
    }
  });
  const address = server.address();
  if (typeof address === 'string' || address === null) return `unix:${config.http.addr}`;
  const { address: host, port, family } = address as AddressInfo;
  const shown = host === '::' || host === '0.0.0.0' ? '127.0.0.1' : family === 'IPv6' ? `[${host}]` : host;
  return `${scheme}://${shown}:${port}`;
}

/** The TCP port of a URL `bind` returned (0 for a unix socket). */
export function portOf(url: string): number {
  return url.startsWith('unix:') ? 0 : Number(new URL(url).port);
}

/** ":5000", "127.0.0.1:5000", "[::1]:5000", "localhost:0" → host and port. */
export function splitAddr(addr: string): { host: string | undefined; port: number } {
  const m = /^(?:\[([^\]]+)\]|([^:]*)):(\d+)$/.exec(addr);
  if (!m) throw new Error(`http.addr: expected host:port, got "${addr}"`);
  return { host: m[1] ?? (m[2] || undefined), port: Number(m[3]) };
}
