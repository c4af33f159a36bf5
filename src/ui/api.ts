// Requests to the registry, with the user's credentials: Basic for htpasswd, bearer tokens from
// the registry's token server (asked per scope, with the same user name and password) for token
// auth. Every request says it comes from the UI (X-Berth-UI), so a 401 carries its challenge in
// X-Berth-Authenticate and the browser does not open a login dialog of its own.
import type { Session } from './types.js';

const CREDENTIALS_KEY = 'berth.credentials';

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

interface Credentials {
  user: string;
  password: string;
}

let session: Session | undefined;
const tokens = new Map<string, { token: string; expires: number }>();

function credentials(): Credentials | undefined {
  const raw = sessionStorage.getItem(CREDENTIALS_KEY);
  if (!raw) return undefined;
  try {
    return JSON.parse(raw) as Credentials;
  } catch {
    return undefined;
  }
}

function basic(c: Credentials): string {
  const bytes = new TextEncoder().encode(`${c.user}:${c.password}`);
  return `Basic ${btoa(String.fromCharCode(...bytes))}`;
}

/** Paths are relative to the page, so the UI works below http.prefix too. */
function url(path: string): string {
  return path.replace(/^\//, '');
}

/** The scope a request needs, for a token; undefined when it needs none (the session). */
function scopeFor(method: string, path: string): string | undefined {
  const p = path.split('?')[0]!;
  if (p === '/v2/_berth/repositories') return 'registry:catalog:*';
  let m = /^\/v2\/_berth\/repositories\/(.+)$/.exec(p) ?? /^\/v2\/_berth\/(?:images|referrers)\/(.+)\/[^/]+$/.exec(p);
  // Asking for delete too tells the page whether to offer it: the token server grants only what the user may do.
  if (m) return `repository:${m[1]}:pull,delete`;
  m = /^\/v2\/(.+)\/manifests\/[^/]+$/.exec(p);
  if (m) return `repository:${m[1]}:${method === 'DELETE' ? 'delete' : 'pull'}`;
  return undefined;
}

async function token(scope: string | undefined, realm: { realm: string; service: string }): Promise<string | undefined> {
  const key = scope ?? '';
  const kept = tokens.get(key);
  if (kept && kept.expires > Date.now()) return kept.token;
  const q = new URLSearchParams({ service: realm.service });
  if (scope) q.set('scope', scope);
  const c = credentials();
  const res = await fetch(`${realm.realm}?${q}`, { headers: { 'X-Berth-UI': '1', ...(c ? { Authorization: basic(c) } : {}) } });
  if (!res.ok) throw await apiError(res);
  const body = (await res.json()) as { token?: string; access_token?: string; expires_in?: number };
  const value = body.token ?? body.access_token;
  if (!value) return undefined;
  tokens.set(key, { token: value, expires: Date.now() + Math.max(10, (body.expires_in ?? 60) - 10) * 1000 });
  return value;
}

async function authorization(method: string, path: string): Promise<string | undefined> {
  const s = session;
  if (!s?.auth) return undefined;
  if (s.auth === 'token') return s.token ? `Bearer ${await token(scopeFor(method, path), s.token)}` : undefined;
  const c = credentials();
  return c ? basic(c) : undefined;
}

async function apiError(res: Response): Promise<ApiError> {
  let code = 'UNKNOWN';
  let message = `${res.status} ${res.statusText}`;
  try {
    const body = (await res.json()) as { errors?: Array<{ code: string; message: string }> };
    const e = body.errors?.[0];
    if (e) {
      code = e.code;
      message = e.message;
    }
  } catch {
    // not JSON
  }
  return new ApiError(res.status, code, message);
}

/** Sends a request; a JSON answer is returned parsed, an error answer thrown as an ApiError. */
export async function request<T>(method: string, path: string): Promise<T> {
  const headers: Record<string, string> = { 'X-Berth-UI': '1', Accept: 'application/json' };
  const auth = await authorization(method, path);
  if (auth) headers.Authorization = auth;
  const res = await fetch(url(path), { method, headers, cache: 'no-store' });
  if (!res.ok) throw await apiError(res);
  const text = await res.text();
  return (text ? JSON.parse(text) : undefined) as T;
}

export function get<T>(path: string): Promise<T> {
  return request<T>('GET', path);
}

/** Reads who the user is; kept for the requests that follow. */
export async function loadSession(): Promise<Session> {
  session = await get<Session>('/v2/_berth/session');
  return session;
}

/**
 * Checks a user name and password the way the registry will (the token server, or the session
 * endpoint with Basic credentials); keeps them for this browser tab when they are right.
 */
export async function login(user: string, password: string): Promise<Session> {
  const previous = sessionStorage.getItem(CREDENTIALS_KEY);
  sessionStorage.setItem(CREDENTIALS_KEY, JSON.stringify({ user, password }));
  tokens.clear();
  try {
    if (session?.auth === 'token' && session.token) await token(undefined, session.token);
    const s = await loadSession();
    if (s.user === null && s.auth !== 'token') throw new ApiError(401, 'UNAUTHORIZED', 'invalid username or password');
    return s;
  } catch (err) {
    if (previous === null) sessionStorage.removeItem(CREDENTIALS_KEY);
    else sessionStorage.setItem(CREDENTIALS_KEY, previous);
    tokens.clear();
    throw err;
  }
}

export function logout(): Promise<Session> {
  sessionStorage.removeItem(CREDENTIALS_KEY);
  tokens.clear();
  return loadSession();
}

export function currentUser(): string | undefined {
  return credentials()?.user;
}
