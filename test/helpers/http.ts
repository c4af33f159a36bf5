/**
 * A small HTTP client for the spec tests, on node:http so paths go out byte-for-byte (fetch would
 * normalise `..` and `%2e%2e`, which the name tests need to send as they are). Every response is
 * recorded, and a 5xx fails the request that caused it: the suite's standing rule is that no
 * request ever makes the registry answer with a server error.
 */
import http from 'node:http';
import net from 'node:net';
import { Readable } from 'node:stream';
import { AssertionError } from 'node:assert';

export interface Res {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: Buffer;
  header(name: string): string | undefined;
  text(): string;
  json<T = any>(): T;
}

export interface ReqOptions {
  headers?: Record<string, string | number>;
  body?: Buffer | string | Readable;
  /** Let a 5xx through, here and in the registry's stop() check (only for tests about a 5xx: the request guard's). */
  allowServerError?: boolean;
  /** Do not buffer the response body; count its bytes and hash nothing (large downloads). */
  discardBody?: boolean;
  /** A new connection for this request (closed after it), as a load balancer spreading requests would make: workers take connections in turn. */
  fresh?: boolean;
  /** The agent to send with (its own kept-alive connections) instead of the shared one. */
  agent?: http.Agent;
}

export interface Observed { method: string; url: string; status: number; allowed?: boolean }

/** Every response seen in this process, in order. */
export const observed: Observed[] = [];

const agent = new http.Agent({ keepAlive: true, maxSockets: 8 });

function makeRes(status: number, headers: http.IncomingHttpHeaders, body: Buffer): Res {
  return {
    status,
    headers,
    body,
    header(name: string) {
      const v = headers[name.toLowerCase()];
      return Array.isArray(v) ? v.join(', ') : v;
    },
    text() { return body.toString('utf8'); },
    json() { return JSON.parse(body.toString('utf8')); },
  };
}

/** Resolves `target` (absolute URL, absolute path, or relative reference) against `base`. */
export function resolveUrl(base: string, targetUrl: string): URL {
  return new URL(targetUrl, base);
}

/**
 * Sends one request. `pathOrUrl` is either an absolute URL or a path sent verbatim (no
 * normalisation) to the registry at `base`.
 */
export function request(base: string, method: string, pathOrUrl: string, opts: ReqOptions = {}): Promise<Res> {
  const baseUrl = new URL(base);
  let host = baseUrl.hostname;
  let port = Number(baseUrl.port);
  let path = pathOrUrl;
  if (/^https?:\/\//.test(pathOrUrl)) {
    const u = new URL(pathOrUrl);
    host = u.hostname;
    port = Number(u.port || 80);
    path = u.pathname + u.search;
  }
  const headers: Record<string, string | number> = { ...(opts.headers ?? {}) };
  const body = opts.body;
  if (body !== undefined && !(body instanceof Readable)) {
    const len = typeof body === 'string' ? Buffer.byteLength(body) : body.length;
    if (!Object.keys(headers).some((k) => k.toLowerCase() === 'content-length')) headers['Content-Length'] = len;
  } else if (body === undefined && method !== 'GET' && method !== 'HEAD' && !Object.keys(headers).some((k) => k.toLowerCase() === 'content-length')) {
    headers['Content-Length'] = 0;
  }
  return new Promise<Res>((resolve, reject) => {
    const req = http.request({ host, port, method, path, headers, agent: opts.agent ?? (opts.fresh ? false : agent) }, (res) => {
      const chunks: Buffer[] = [];
      let size = 0;
      res.on('data', (c: Buffer) => { size += c.length; if (!opts.discardBody) chunks.push(c); });
      res.on('error', reject);
      res.on('end', () => {
        const status = res.statusCode ?? 0;
        observed.push({ method, url: `${host}:${port}${path}`, status, ...(opts.allowServerError ? { allowed: true } : {}) });
        const out = makeRes(status, res.headers, opts.discardBody ? Buffer.alloc(0) : Buffer.concat(chunks));
        if (status >= 500 && !opts.allowServerError) {
          reject(new AssertionError({ message: `registry answered ${status} to ${method} ${path}: ${out.text().slice(0, 500)}`, actual: status, expected: '< 500', operator: 'no-5xx' }));
          return;
        }
        resolve(out);
      });
    });
    req.on('error', reject);
    if (body instanceof Readable) body.pipe(req);
    else req.end(body);
  });
}

/** Parsed raw HTTP/1.1 response: status line, headers, and whatever body arrived. */
export interface RawRes { status: number; head: string; headers: Record<string, string>; body: string }

/**
 * Writes `raw` bytes to the registry's socket and reads until the server closes or `timeoutMs`
 * passes (send `Connection: close` in raw requests). For requests http.request refuses to build.
 */
export function rawRequest(base: string, raw: Buffer | string, timeoutMs = 5000): Promise<RawRes> {
  const u = new URL(base);
  return new Promise((resolve) => {
    const sock = net.connect(Number(u.port), u.hostname);
    const chunks: Buffer[] = [];
    const timer = setTimeout(() => sock.destroy(), timeoutMs);
    sock.on('data', (c) => chunks.push(c));
    // A reset (e.g. the server refusing oversized headers) ends the exchange; 'close' follows.
    sock.on('error', () => undefined);
    sock.on('close', () => {
      clearTimeout(timer);
      const text = Buffer.concat(chunks).toString('latin1');
      const split = text.indexOf('\r\n\r\n');
      const head = split >= 0 ? text.slice(0, split) : text;
      const lines = head.split('\r\n');
      const m = /^HTTP\/1\.[01] (\d{3})/.exec(lines[0] ?? '');
      const headers: Record<string, string> = {};
      for (const l of lines.slice(1)) {
        const i = l.indexOf(':');
        if (i > 0) headers[l.slice(0, i).trim().toLowerCase()] = l.slice(i + 1).trim();
      }
      const status = m ? Number(m[1]) : 0;
      observed.push({ method: 'RAW', url: `${u.host} ${String(raw).split('\r\n')[0]}`, status });
      resolve({ status, head, headers, body: split >= 0 ? text.slice(split + 4) : '' });
    });
    sock.write(raw);
  });
}

/** Parses an RFC 5988 Link header's rel="next" target, or undefined. */
export function nextLink(link: string | undefined): string | undefined {
  if (!link) return undefined;
  const m = /<([^>]*)>\s*;\s*rel="?next"?/.exec(link);
  return m?.[1];
}
