/**
 * Authentication against an upstream registry: anonymous, Basic, or the Docker bearer-token flow
 * (a 401 with `WWW-Authenticate: Bearer realm=…,service=…` → GET realm?service&scope with Basic
 * credentials when configured → retry with the token). Tokens are cached per scope until shortly
 * before they expire; concurrent requests for the same scope share one token request.
 */
import { type Clock, systemClock } from '../clock.js';

export interface Challenge {
  scheme: string;
  params: Record<string, string>;
}

/** Parses a WWW-Authenticate value (one or more challenges, RFC 9110 auth-params). */
export function parseChallenges(header: string | null): Challenge[] {
  if (!header) return [];
  const out: Challenge[] = [];
  const re = /\s*([A-Za-z][A-Za-z0-9!#$%&'*+.^_`|~-]*)(?:\s+|$)/y;
  const param = /\s*([A-Za-z0-9!#$%&'*+.^_`|~-]+)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^\s,]*))\s*,?/y;
  let pos = 0;
  while (pos < header.length) {
    re.lastIndex = pos;
    const m = re.exec(header);
    if (!m) break;
    pos = re.lastIndex;
    const challenge: Challenge = { scheme: m[1]!.toLowerCase(), params: {} };
    for (;;) {
      param.lastIndex = pos;
      const p = param.exec(header);
      if (!p) break;
      // A token followed by a space and no "=" is the next challenge's scheme.
      challenge.params[p[1]!.toLowerCase()] = p[2] !== undefined ? p[2].replace(/\\(.)/g, '$1') : (p[3] ?? '');
      pos = param.lastIndex;
    }
    out.push(challenge);
    while (pos < header.length && /[\s,]/.test(header[pos]!)) pos++;
  }
  return out;
}

export interface Credentials {
  username: string;
  password: string;
}

export function basicHeader(c: Credentials): string {
  return `Basic ${Buffer.from(`${c.username}:${c.password}`).toString('base64')}`;
}

interface CachedToken {
  token: string;
  /** Clock time after which the token is not used any more. */
  usableUntil: number;
}

/** Minimum lifetime a token is assumed to have when the server says nothing (the Docker token spec's 60 s). */
const DEFAULT_EXPIRES_IN_S = 60;

export class TokenCache {
  private readonly tokens = new Map<string, CachedToken>();
  private readonly pending = new Map<string, Promise<string>>();
  /** How many tokens were fetched (tests and logs). */
  fetched = 0;

  constructor(
    private readonly fetchToken: (challenge: Challenge, scope: string) => Promise<{ token: string; expiresInS: number }>,
    private readonly clock: Clock = systemClock,
  ) {}

  cached(key: string): string | undefined {
    const t = this.tokens.get(key);
    if (t && t.usableUntil > this.clock.now()) return t.token;
    if (t) this.tokens.delete(key);
    return undefined;
  }

  /** A token for scope from the realm in `challenge`, fetched once for concurrent callers. */
  get(challenge: Challenge, scope: string): Promise<string> {
    const key = cacheKey(challenge, scope);
    const hit = this.cached(key);
    if (hit) return Promise.resolve(hit);
    const running = this.pending.get(key);
    if (running) return running;
    const started = this.clock.now();
    const task = this.fetchToken(challenge, scope)
      .then(({ token, expiresInS }) => {
        this.fetched++;
        const lifetimeMs = Math.max(expiresInS, 1) * 1000;
        // Stop using a token a little before it expires: 10% of its life, at most 30 s.
        this.tokens.set(key, { token, usableUntil: started + lifetimeMs - Math.min(lifetimeMs * 0.1, 30_000) });
        return token;
      })
      .finally(() => this.pending.delete(key));
    this.pending.set(key, task);
    return task;
  }

  forget(challenge: Challenge, scope: string): void {
    this.tokens.delete(cacheKey(challenge, scope));
  }
}

export function cacheKey(challenge: Challenge, scope: string): string {
  return `${challenge.params.realm ?? ''}\u0000${challenge.params.service ?? ''}\u0000${scope}`;
}

/** Reads a token endpoint's answer: `token` or `access_token`, `expires_in` (seconds). */
export function parseTokenResponse(body: unknown): { token: string; expiresInS: number } | undefined {
  if (typeof body !== 'object' || body === null) return undefined;
  const b = body as Record<string, unknown>;
  const token = typeof b.token === 'string' && b.token ? b.token : typeof b.access_token === 'string' ? b.access_token : undefined;
  if (!token) return undefined;
  const expiresInS = typeof b.expires_in === 'number' && b.expires_in > 0 ? b.expires_in : DEFAULT_EXPIRES_IN_S;
  return { token, expiresInS };
}
