/**
 * HTTP for the client: node:http(s) with keep-alive agents (measured against undici for a 1 GiB
 * GET→PUT stream: the same CPU per GiB within noise, so no dependency), TLS options, the choice
 * of scheme per host, redirects for reads, and retries. Bodies are streams: nothing here reads a
 * blob into memory. Auth sits above this (auth/client.ts).
 */
import http, { type IncomingHttpHeaders, type IncomingMessage } from 'node:http';
import https from 'node:https';
import type { Readable } from 'node:stream';
import { rootCertificates } from 'node:tls';
import { isLoopbackHost } from '../../oci/reference.js';
import { ClientError, NetworkError, ProtocolError, type RequestInfo } from '../errors.js';
import { backoff, isNetworkError, isRetryableStatus, parseRetryAfter, retryPolicy, sleep, type RetryOptions, type RetryPolicy } from './retry.js';

export interface TlsOptions {
  /** Certificates (PEM) to trust besides Node's defaults. */
  ca?: string | Buffer | Array<string | Buffer>;
  /** A client certificate and its key (PEM), for registries that ask for one. */
  cert?: string | Buffer;
  key?: string | Buffer;
  /** Accept any server certificate. Only for testing: anyone on the path can read and change traffic. */
  insecureSkipVerify?: boolean;
}

export interface TransportOptions {
  tls?: TlsOptions;
  /**
   * Plain http instead of https: `true` for every host, `false` for none, or a list of hosts
   * (`host[:port]`). Default: loopback hosts (127.0.0.0/8, localhost, [::1]) only, as Docker does.
   */
  plainHttp?: boolean | string[];
  userAgent?: string;
  retry?: RetryOptions;
  /** Sockets kept per host (default 32). */
  maxSockets?: number;
  /** A socket silent this long fails the request (default 120 s). */
  idleTimeoutMs?: number;
}

/** A body that can be sent again (a buffer, or a function that opens the stream anew) or one that cannot. */
export type RequestBody = Buffer | (() => Readable) | Readable;

export interface HttpRequest {
  method: string;
  url: URL;
  headers?: Record<string, string>;
  body?: RequestBody;
  signal?: AbortSignal;
  /** Send once: no retry even when the body could be sent again. */
  noRetry?: boolean;
}

export interface HttpResponse {
  status: number;
  headers: IncomingHttpHeaders;
  body: IncomingMessage;
  /** The URL that answered (after redirects). */
  url: URL;
  info: RequestInfo;
}

export function header(res: { headers: IncomingHttpHeaders }, name: string): string | undefined {
  const v = res.headers[name];
  return Array.isArray(v) ? v[0] : v;
}

/** The whole response body, bounded (manifests, error bodies and token answers are small). */
export async function readBuffer(res: HttpResponse, limit: number): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const c of res.body as AsyncIterable<Buffer>) {
    size += c.length;
    if (size > limit) {
      res.body.destroy();
      throw new ProtocolError(`response body larger than ${limit} bytes`, { code: 'SIZE_INVALID', info: res.info, status: res.status });
    }
    chunks.push(c);
  }
  return Buffer.concat(chunks);
}

export async function readText(res: HttpResponse, limit = 1 << 20): Promise<string> {
  return (await readBuffer(res, limit)).toString('utf8');
}

/** Reads and drops the rest of a body so the socket goes back to the pool. */
export function discard(res: HttpResponse): Promise<void> {
  return new Promise((resolve) => {
    if (res.body.readableEnded) return resolve();
    res.body.on('end', resolve).on('error', () => resolve()).on('close', resolve).resume();
  });
}

export function describeUrl(url: URL): string {
  // No query: upload locations carry signed state, redirect targets signatures.
  return `${url.origin}${url.pathname}`;
}

const REDIRECTS = new Set([301, 302, 303, 307, 308]);

export class Transport {
  readonly policy: RetryPolicy;
  private readonly httpAgent: http.Agent;
  private readonly httpsAgent: https.Agent;
  private readonly plainHttp: boolean | string[] | undefined;
  private readonly userAgent: string;
  private readonly idleTimeoutMs: number;

  constructor(o: TransportOptions = {}) {
    const maxSockets = o.maxSockets ?? 32;
    this.httpAgent = new http.Agent({ keepAlive: true, maxSockets });
    this.httpsAgent = new https.Agent({
      keepAlive: true,
      maxSockets,
      ca: o.tls?.ca ? [...rootCertificates, ...[o.tls.ca].flat()] : undefined,
      cert: o.tls?.cert,
      key: o.tls?.key,
      rejectUnauthorized: !o.tls?.insecureSkipVerify,
    });
    this.plainHttp = o.plainHttp;
    this.userAgent = o.userAgent ?? 'berth-client';
    this.policy = retryPolicy(o.retry);
    this.idleTimeoutMs = o.idleTimeoutMs ?? 120_000;
  }

  /** `http://host` or `https://host` for a registry host, by the rule in TransportOptions.plainHttp. */
  baseUrl(host: string): string {
    const plain = Array.isArray(this.plainHttp) ? this.plainHttp.includes(host) : this.plainHttp ?? isLoopbackHost(host);
    return `${plain ? 'http' : 'https'}://${host}`;
  }

  /**
   * Sends a request, following redirects for GET and HEAD and retrying network errors, 429 and
   * 5xx while the body can be sent again. Any other status is returned to the caller as it is.
   */
  async send(req: HttpRequest): Promise<HttpResponse> {
    for (let attempt = 1; ; attempt++) {
      let res: HttpResponse;
      try {
        res = await this.follow(req);
      } catch (err) {
        if (req.signal?.aborted || req.noRetry || !isNetworkError(err) || !replayable(req.body)) throw wrapNetwork(err, req);
        const wait = backoff(this.policy, attempt);
        if (wait === undefined) throw wrapNetwork(err, req);
        await sleep(wait, req.signal);
        continue;
      }
      if (req.noRetry || !isRetryableStatus(res.status) || !replayable(req.body)) return res;
      const wait = backoff(this.policy, attempt, parseRetryAfter(header(res, 'retry-after')));
      if (wait === undefined) return res;
      await discard(res);
      await sleep(wait, req.signal);
    }
  }

  private async follow(req: HttpRequest): Promise<HttpResponse> {
    let url = req.url;
    let headers = req.headers ?? {};
    for (let hop = 0; ; hop++) {
      const res = await this.once({ ...req, url, headers });
      const location = header(res, 'location');
      if (!REDIRECTS.has(res.status) || !location || (req.method !== 'GET' && req.method !== 'HEAD') || hop >= 5) return res;
      await discard(res);
      const next = new URL(location, url);
      // Credentials stay with the registry: a redirect to storage elsewhere gets none.
      if (next.origin !== url.origin) {
        headers = Object.fromEntries(Object.entries(headers).filter(([k]) => k.toLowerCase() !== 'authorization'));
      }
      url = next;
    }
  }

  private once(req: HttpRequest): Promise<HttpResponse> {
    const info: RequestInfo = { registry: req.url.host, method: req.method, url: describeUrl(req.url) };
    const isHttps = req.url.protocol === 'https:';
    return new Promise<HttpResponse>((resolve, reject) => {
      const body = typeof req.body === 'function' ? req.body() : req.body;
      const headers: Record<string, string> = { 'User-Agent': this.userAgent, ...req.headers };
      if (Buffer.isBuffer(body)) headers['Content-Length'] = String(body.length);
      else if (body === undefined && (req.method === 'PUT' || req.method === 'POST' || req.method === 'PATCH')) headers['Content-Length'] = '0';
      const r = (isHttps ? https : http).request(req.url, {
        method: req.method,
        headers,
        agent: isHttps ? this.httpsAgent : this.httpAgent,
        signal: req.signal,
      });
      r.setTimeout(this.idleTimeoutMs, () => r.destroy(Object.assign(new Error(`no data for ${this.idleTimeoutMs} ms`), { code: 'BERTH_SOCKET_TIMEOUT' })));
      r.on('response', (res) => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: res, url: req.url, info }));
      r.on('error', (err) => {
        if (body && !Buffer.isBuffer(body)) body.destroy();
        reject(err);
      });
      if (body === undefined) r.end();
      else if (Buffer.isBuffer(body)) r.end(body);
      else {
        body.on('error', (err) => r.destroy(err));
        body.pipe(r);
      }
    });
  }

  /** Closes idle sockets; requests in flight finish. */
  close(): void {
    this.httpAgent.destroy();
    this.httpsAgent.destroy();
  }
}

function replayable(body: RequestBody | undefined): boolean {
  return body === undefined || Buffer.isBuffer(body) || typeof body === 'function';
}

/** A failure below HTTP (refused, reset, TLS, timeout) as a NetworkError naming the request; an abort as the signal's reason. */
function wrapNetwork(err: unknown, req: HttpRequest): unknown {
  if (req.signal?.aborted) return req.signal.reason;
  // A ClientError here came from the body's source (a digest mismatch, a failed download): as it is.
  if (!(err instanceof Error) || err instanceof ClientError) return err;
  const code = (err as { code?: string }).code ?? 'NETWORK';
  return new NetworkError(err.message, { code, info: { registry: req.url.host, method: req.method, url: describeUrl(req.url) }, cause: err });
}
