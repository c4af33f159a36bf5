/**
 * Authentication apart from transport: a request goes out with what this client already knows
 * about its host (nothing, Basic, or a Bearer token cached for the request's scope); a 401 with a
 * `WWW-Authenticate` challenge teaches it the scheme, and the request is sent once more with
 * credentials (Basic) or a token fetched from the challenge's realm for its service and scope
 * (Bearer). Tokens are cached per host and scope set until shortly before they expire, then
 * fetched again. Credentials come from a CredentialStore, asked only when a challenge needs them.
 */
import { responseError, UnauthorizedError, ProtocolError } from '../errors.js';
import { discard, header, readText, type HttpRequest, type HttpResponse, type Transport } from '../http/transport.js';
import { parseChallenges, type Challenge } from './challenge.js';
import type { Credential, CredentialStore } from './credentials.js';

export interface AuthRequest extends HttpRequest {
  /** Token scopes this request needs, e.g. `repository:team/app:pull,push`. */
  scopes?: string[];
  /** The repository, for credential stores that keep credentials per repository. */
  repository?: string;
}

export interface TokenEvent {
  host: string;
  scopes: string[];
  expiresInSeconds: number;
}

interface HostState {
  scheme: 'basic' | 'bearer';
  realm?: string;
  service?: string;
}

interface CachedToken {
  token: string;
  /** When to stop using it (before it expires). */
  refreshAt: number;
}

/** Scopes merged per resource (`repository:a:pull` + `repository:a:push` → `repository:a:pull,push`), sorted. */
export function mergeScopes(scopes: readonly string[]): string[] {
  const byResource = new Map<string, Set<string>>();
  for (const scope of scopes) {
    for (const s of scope.split(' ')) {
      const last = s.lastIndexOf(':');
      if (last <= 0) continue;
      const resource = s.slice(0, last);
      const set = byResource.get(resource) ?? new Set<string>();
      for (const a of s.slice(last + 1).split(',')) if (a) set.add(a);
      byResource.set(resource, set);
    }
  }
  return [...byResource].map(([r, a]) => `${r}:${[...a].sort().join(',')}`).sort();
}

export class AuthClient {
  private readonly hosts = new Map<string, HostState>();
  private readonly tokens = new Map<string, CachedToken>();
  private readonly pending = new Map<string, Promise<CachedToken>>();

  constructor(
    readonly transport: Transport,
    private readonly credentials: CredentialStore | undefined,
    private readonly onToken?: (e: TokenEvent) => void,
    /** The clock token lifetimes are measured with (injectable for tests). */
    private readonly now: () => number = Date.now,
  ) {}

  async send(req: AuthRequest): Promise<HttpResponse> {
    const host = req.url.host;
    const scopes = mergeScopes(req.scopes ?? []);
    const first = await this.authorization(host, scopes, req.repository, false);
    const res = await this.transport.send(withAuth(req, first));
    if (res.status !== 401) return res;
    const replayable = req.body === undefined || Buffer.isBuffer(req.body) || typeof req.body === 'function';
    const challenge = pickChallenge(header(res, 'www-authenticate'));
    if (!challenge || !replayable) return res;
    const learned = this.learn(host, challenge);
    const wanted = mergeScopes([...scopes, ...(challenge.params.scope ? [challenge.params.scope] : [])]);
    // Credentials we just sent were refused (Basic), or a token was refused for the very scope it
    // was made for: sending again would be refused again.
    if (first && learned.scheme === 'basic') return res;
    if (first && challenge.params.error === 'insufficient_scope' && wanted.join(' ') === scopes.join(' ')) return res;
    const second = await this.authorization(host, wanted, req.repository, true);
    if (!second) return res;
    await discard(res);
    return this.transport.send(withAuth(req, second));
  }

  private learn(host: string, c: Challenge): HostState {
    const state: HostState = c.scheme === 'bearer' ? { scheme: 'bearer', realm: c.params.realm, service: c.params.service } : { scheme: 'basic' };
    this.hosts.set(host, state);
    return state;
  }

  /** The Authorization header for a request, from what is known; `fresh` drops a cached token. */
  private async authorization(host: string, scopes: string[], repository: string | undefined, fresh: boolean): Promise<string | undefined> {
    const state = this.hosts.get(host);
    if (!state) return undefined;
    if (state.scheme === 'basic') {
      const cred = await this.credentials?.get(host, repository);
      if (!cred || !('username' in cred)) return undefined;
      return `Basic ${Buffer.from(`${cred.username}:${cred.password}`).toString('base64')}`;
    }
    const key = `${host} ${scopes.join(' ')}`;
    const cached = this.tokens.get(key);
    if (cached && !fresh && this.now() < cached.refreshAt) return `Bearer ${cached.token}`;
    let p = this.pending.get(key);
    if (!p) {
      p = this.fetchToken(host, state, scopes, repository).finally(() => this.pending.delete(key));
      this.pending.set(key, p);
    }
    const t = await p;
    this.tokens.set(key, t);
    return `Bearer ${t.token}`;
  }

  private async fetchToken(host: string, state: HostState, scopes: string[], repository: string | undefined): Promise<CachedToken> {
    const cred = await this.credentials?.get(host, repository);
    if (cred && 'registryToken' in cred) return { token: cred.registryToken, refreshAt: Infinity };
    if (!state.realm) throw new ProtocolError('Bearer challenge without a realm', { code: 'UNAUTHORIZED', info: { registry: host, method: 'GET', url: '/v2/' } });
    const realm = new URL(state.realm);
    let res: HttpResponse;
    if (cred && 'identityToken' in cred) {
      const form = new URLSearchParams({ grant_type: 'refresh_token', refresh_token: cred.identityToken, client_id: 'berth-client' });
      if (state.service) form.set('service', state.service);
      if (scopes.length) form.set('scope', scopes.join(' '));
      res = await this.transport.send({ method: 'POST', url: realm, body: Buffer.from(form.toString()), headers: { 'Content-Type': 'application/x-www-form-urlencoded' } });
    } else {
      if (state.service) realm.searchParams.set('service', state.service);
      for (const s of scopes) realm.searchParams.append('scope', s);
      const headers: Record<string, string> = {};
      if (cred && 'username' in cred) {
        realm.searchParams.set('account', cred.username);
        headers.Authorization = `Basic ${Buffer.from(`${cred.username}:${cred.password}`).toString('base64')}`;
      }
      res = await this.transport.send({ method: 'GET', url: realm, headers });
    }
    const text = await readText(res);
    if (res.status !== 200) {
      const err = responseError(res.info, res.status, text);
      if (res.status === 401) throw new UnauthorizedError(`the token server refused ${cred ? 'the credentials' : 'an anonymous request'} for ${host}`, { code: err.code, info: res.info, status: 401, errors: err.errors });
      throw err;
    }
    let doc: { token?: unknown; access_token?: unknown; expires_in?: unknown };
    try {
      doc = JSON.parse(text) as typeof doc;
    } catch {
      throw new ProtocolError('token answer is not JSON', { code: 'UNAUTHORIZED', info: res.info, status: res.status });
    }
    const token = typeof doc.token === 'string' && doc.token ? doc.token : typeof doc.access_token === 'string' ? doc.access_token : '';
    if (!token) throw new ProtocolError('token answer has no token', { code: 'UNAUTHORIZED', info: res.info, status: res.status });
    // The token spec's default lifetime is 60 s; stop using a token a tenth of its life early.
    const expiresIn = typeof doc.expires_in === 'number' && doc.expires_in > 0 ? doc.expires_in : 60;
    this.onToken?.({ host, scopes, expiresInSeconds: expiresIn });
    return { token, refreshAt: this.now() + expiresIn * 900 };
  }
}

function withAuth(req: AuthRequest, authorization: string | undefined): HttpRequest {
  if (!authorization) return req;
  return { ...req, headers: { ...req.headers, Authorization: authorization } };
}

/** Bearer when offered (it scopes access), else Basic; nothing else is understood. */
function pickChallenge(value: string | undefined): Challenge | undefined {
  if (!value) return undefined;
  const all = parseChallenges(value);
  return all.find((c) => c.scheme === 'bearer') ?? all.find((c) => c.scheme === 'basic');
}
