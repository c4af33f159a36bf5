import { Readable } from 'node:stream';
import type { ReadableStream as WebReadableStream } from 'node:stream/web';
import type { Logger } from 'pino';
import { type Clock, systemClock } from '../clock.js';
import type { UpstreamConfig } from '../config/types.js';
import { RegistryError } from '../oci/errors.js';
import { type Challenge, type Credentials, TokenCache, basicHeader, parseChallenges, parseTokenResponse } from './auth.js';
import type { UpstreamErrorReason, UpstreamMetrics } from './metrics.js';
import { tracer } from '../tracing/index.js';

/** Every manifest format Berth stores (Docker schema 1 is not asked for: Berth refuses it). */
export const MANIFEST_ACCEPT = [
  'application/vnd.oci.image.index.v1+json',
  'application/vnd.oci.image.manifest.v1+json',
  'application/vnd.docker.distribution.manifest.list.v2+json',
  'application/vnd.docker.distribution.manifest.v2+json',
].join(', ');

export interface UpstreamResponse {
  readonly status: number;
  readonly headers: Headers;
  /** The body as a stream that fails when no bytes arrive for idletimeout. Read it or call discard(). */
  body(): Readable;
  /** The whole body, refusing more than `limit` bytes. */
  bytes(limit: number): Promise<Buffer>;
  discard(): void;
}

/**
 * One upstream registry: its URL, credentials, authentication state (the challenge it answered
 * with, bearer tokens per scope) and timeouts. Every request is bounded: `timeout` until the
 * response headers, `idletimeout` between body chunks; a failure becomes a RegistryError that
 * names the upstream (503 UNAVAILABLE unreachable or timed out, 502 for a 5xx answer).
 */
export class Upstream {
  readonly tokens: TokenCache;
  /** The challenge learnt from the upstream's last 401 (bearer or basic); undefined: anonymous so far. */
  private challenge: Challenge | undefined;
  private readonly credentials: Credentials | undefined;

  constructor(
    readonly config: UpstreamConfig,
    /** "default" or the prefix: for logs and metric labels. */
    readonly label: string,
    readonly metrics: UpstreamMetrics,
    private readonly log: Logger,
    clock: Clock = systemClock,
  ) {
    this.credentials = config.username !== undefined && config.password !== undefined ? { username: config.username, password: config.password } : undefined;
    this.tokens = new TokenCache((challenge, scope) => this.fetchToken(challenge, scope), clock);
  }

  get url(): string {
    return this.config.remoteurl;
  }

  /** GET or HEAD `path` (under /v2/) with `scope` ("repository:<name>:pull") for the token flow. */
  async request(method: 'GET' | 'HEAD', path: string, scope: string, accept?: string): Promise<UpstreamResponse> {
    let authorization = await this.authorization(scope);
    let res = await this.send(method, path, accept, authorization);
    if (res.status === 401) {
      const challenges = parseChallenges(res.headers.get('www-authenticate'));
      const bearer = challenges.find((c) => c.scheme === 'bearer' && c.params.realm);
      const basic = challenges.find((c) => c.scheme === 'basic');
      if (bearer) {
        this.challenge = bearer;
        // A token that was refused (expired early, revoked) is not offered again.
        if (authorization?.startsWith('Bearer ')) this.tokens.forget(bearer, scope);
        res.discard();
        authorization = `Bearer ${await this.tokens.get(bearer, scope)}`;
        res = await this.send(method, path, accept, authorization);
      } else if (basic && this.credentials && !authorization) {
        this.challenge = basic;
        res.discard();
        res = await this.send(method, path, accept, basicHeader(this.credentials));
      }
    }
    return res;
  }

  private async authorization(scope: string): Promise<string | undefined> {
    const c = this.challenge;
    if (!c) return undefined;
    if (c.scheme === 'basic') return this.credentials ? basicHeader(this.credentials) : undefined;
    return `Bearer ${await this.tokens.get(c, scope)}`;
  }

  private async fetchToken(challenge: Challenge, scope: string): Promise<{ token: string; expiresInS: number }> {
    let url: URL;
    try {
      url = new URL(challenge.params.realm ?? '');
    } catch {
      throw this.failure('invalid', `token realm ${JSON.stringify(challenge.params.realm)} is not a URL`, 502);
    }
    if (challenge.params.service) url.searchParams.set('service', challenge.params.service);
    url.searchParams.set('scope', scope);
    const headers: Record<string, string> = {};
    if (this.credentials) headers.Authorization = basicHeader(this.credentials);
    const res = await this.fetchBounded('GET', url.toString(), headers, `token endpoint ${url.origin}${url.pathname}`);
    if (res.status === 401 || res.status === 403) {
      res.discard();
      throw this.failure('denied', `token endpoint ${url.origin}${url.pathname} refused the credentials (HTTP ${res.status})`, 403, 'DENIED');
    }
    if (res.status !== 200) {
      res.discard();
      throw this.failure(res.status >= 500 ? 'status_5xx' : 'invalid', `token endpoint ${url.origin}${url.pathname} answered HTTP ${res.status}`, 502);
    }
    let body: unknown;
    try {
      body = JSON.parse((await res.bytes(1024 * 1024)).toString('utf8'));
    } catch {
      body = undefined;
    }
    const token = parseTokenResponse(body);
    if (!token) throw this.failure('invalid', `token endpoint ${url.origin}${url.pathname} gave no token`, 502);
    this.log.debug({ upstream: this.url, scope, expiresIn: token.expiresInS }, 'upstream token fetched');
    return token;
  }

  private send(method: string, path: string, accept: string | undefined, authorization: string | undefined): Promise<UpstreamResponse> {
    const headers: Record<string, string> = { 'User-Agent': 'berth-mirror' };
    if (accept) headers.Accept = accept;
    if (authorization) headers.Authorization = authorization;
    return this.fetchBounded(method, `${this.url}${path}`, headers, undefined);
  }

  /**
   * One upstream request; with tracing on, in a client span (`upstream <METHOD>`, until the
   * response headers) whose `traceparent` is sent along, so a traced upstream joins the trace.
   */
  private fetchBounded(method: string, url: string, headers: Record<string, string>, what: string | undefined): Promise<UpstreamResponse> {
    if (!tracer) return this.fetchOnce(method, url, headers, what);
    const target = new URL(url);
    target.username = '';
    target.password = '';
    const attributes = { 'http.request.method': method, 'url.full': target.toString(), 'server.address': target.hostname, 'berth.upstream': this.label };
    return tracer.inSpan(`upstream ${method}`, 'client', attributes, async (span) => {
      tracer?.inject(headers);
      const res = await this.fetchOnce(method, url, headers, what);
      span?.setAttribute('http.response.status_code', res.status);
      if (res.status >= 500) span?.fail(`HTTP ${res.status}`);
      return res;
    });
  }

  /** fetch with the response-header timeout, latency and error metrics, and errors naming the upstream. */
  private async fetchOnce(method: string, url: string, headers: Record<string, string>, what: string | undefined): Promise<UpstreamResponse> {
    const controller = new AbortController();
    const { timeoutMs, idleTimeoutMs } = this.config;
    const timer = setTimeout(() => controller.abort(), timeoutMs);
    const started = performance.now();
    let res: Response;
    try {
      // Redirects are followed (blob downloads often redirect to a CDN); fetch drops
      // Authorization when a redirect leaves the upstream's origin.
      res = await fetch(url, { method, headers, signal: controller.signal, redirect: 'follow' });
    } catch (err) {
      const timedOut = controller.signal.aborted;
      const cause = (err as { cause?: { code?: string; message?: string } }).cause;
      const detail = timedOut ? `no answer within ${timeoutMs / 1000}s` : `unreachable (${cause?.code ?? cause?.message ?? (err as Error).message})`;
      throw this.failure(timedOut ? 'timeout' : 'unreachable', what ? `${what}: ${detail}` : detail, 503);
    } finally {
      clearTimeout(timer);
    }
    this.metrics.latency(method, (performance.now() - started) / 1000);
    if (res.status >= 500) this.metrics.error('status_5xx');
    else if (res.status === 429) this.metrics.error('status_429');
    let consumed = false;
    const web = res.body as WebReadableStream<Uint8Array> | null;
    const body = (): Readable => {
      consumed = true;
      if (!web) return Readable.from([]);
      // The stream is locked here, not at the first read: fetch cancels the body of a Response
      // that is garbage-collected while its body is unlocked, and the body then reads as empty.
      const reader = web.getReader();
      const out = Readable.from(idleBounded(web, reader, idleTimeoutMs, controller, () => this.metrics.error('timeout')), { objectMode: false });
      // Destroyed before its first read, the generator never runs its clean-up: let the connection go.
      out.once('close', () => void reader.cancel().catch(() => undefined));
      return out;
    };
    return {
      status: res.status,
      headers: res.headers,
      body,
      async bytes(limit) {
        const chunks: Buffer[] = [];
        let size = 0;
        for await (const chunk of body()) {
          size += (chunk as Buffer).length;
          if (size > limit) {
            controller.abort();
            throw new RegistryError('MANIFEST_INVALID', `upstream answer larger than ${limit} bytes`, undefined, { status: 502 });
          }
          chunks.push(chunk as Buffer);
        }
        return Buffer.concat(chunks, size);
      },
      discard() {
        if (!consumed) {
          consumed = true;
          web?.cancel().catch(() => undefined);
        }
      },
    };
  }

  /** A RegistryError naming the upstream, counted in the error metric. */
  failure(reason: UpstreamErrorReason, detail: string, status: number, code: 'UNAVAILABLE' | 'DENIED' | 'TOOMANYREQUESTS' = 'UNAVAILABLE'): RegistryError {
    this.metrics.error(reason);
    return new RegistryError(code, `upstream ${this.url}: ${detail}`, { upstream: this.url }, { status });
  }

  /** The error for an answer that is neither success nor "not found". */
  unexpected(res: UpstreamResponse, what: string): RegistryError {
    res.discard();
    if (res.status === 401 || res.status === 403) return this.failure('denied', `access to ${what} denied (HTTP ${res.status}); check the mirror's credentials`, 403, 'DENIED');
    if (res.status === 429) return new RegistryError('TOOMANYREQUESTS', `upstream ${this.url}: too many requests for ${what}`, { upstream: this.url });
    if (res.status >= 500) return new RegistryError('UNAVAILABLE', `upstream ${this.url}: HTTP ${res.status} for ${what}`, { upstream: this.url }, { status: 502 });
    return this.failure('invalid', `unexpected HTTP ${res.status} for ${what}`, 502);
  }
}

/** The body's chunks; aborts the request when the next chunk takes longer than `idleMs`. */
async function* idleBounded(
  web: WebReadableStream<Uint8Array>,
  reader: ReadableStreamDefaultReader<Uint8Array>,
  idleMs: number,
  controller: AbortController,
  onTimeout: () => void,
): AsyncGenerator<Buffer> {
  try {
    for (;;) {
      let timedOut = false;
      const timer = setTimeout(() => {
        timedOut = true;
        onTimeout();
        controller.abort();
      }, idleMs);
      let next: ReadableStreamReadResult<Uint8Array>;
      try {
        next = await reader.read();
      } catch (err) {
        if (timedOut) throw new Error(`upstream sent nothing for ${idleMs / 1000}s`);
        throw err;
      } finally {
        clearTimeout(timer);
      }
      if (next.done) return;
      yield Buffer.from(next.value.buffer, next.value.byteOffset, next.value.byteLength);
    }
  } finally {
    reader.releaseLock();
    if (!controller.signal.aborted) web.cancel().catch(() => undefined);
  }
}
