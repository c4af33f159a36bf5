/**
 * N Basic logins for one user sent at once, each on its own connection, the right password last:
 * how many passwords the registry checked (answers 200 or 401) and how many it refused unchecked
 * (429). Used by ratelimit.test.ts; run on its own for the figures in the issue:
 *
 *   node --import tsx test/security/parallel-logins.ts [N=60] [bcrypt cost=10] [htpasswd|issuer]
 */
import http from 'node:http';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Registry } from '../helpers/registry.js';
import { basic, tempDir, writeHtpasswd } from '../auth/helpers.js';
import { startLogged, type Level } from './harness.js';

export const USER = 'alice';
export const PASSWORD = 'right-password';
export const ISSUER_PATH = '/auth/token';

export type Endpoint = 'htpasswd' | 'issuer';

export interface Tally {
  ok: number;
  unauthorized: number;
  limited: number;
  other: number[];
  /** The answer to the last attempt (the one with the right password). */
  last: number;
  /** Passwords the registry verified: every 200 and 401. */
  checked: number;
}

/** A child registry with the htpasswd controller, or auth.token with Berth's own issuer. */
export async function startLimited(o: { endpoint: Endpoint; level: Level; failures: number; cost?: number; users?: Record<string, string> }): Promise<{ reg: Registry; cleanup(): Promise<void> }> {
  const tmp = tempDir('ratelimit');
  const htpasswd = path.join(tmp.dir, 'htpasswd');
  writeHtpasswd(htpasswd, o.users ?? { [USER]: PASSWORD }, [], o.cost);
  const limit = ['    ratelimit:', `      failures: ${o.failures}`, '      window: 1m'];
  const extra =
    o.endpoint === 'htpasswd'
      ? ['auth:', '  htpasswd:', '    realm: security', `    path: ${htpasswd}`, 'berth:', '  auth:', ...limit]
      : ['auth:', '  token:', '    autoredirect: true', '    service: security', '    issuer: security-issuer', 'berth:', '  auth:', '    tokenissuer:', `      htpasswd: ${htpasswd}`, `      path: ${ISSUER_PATH}`, ...limit];
  const reg = await startLogged({ level: o.level, extra: extra.join('\n') });
  return {
    reg,
    async cleanup() {
      await reg.stop();
      tmp.cleanup();
    },
  };
}

export type Route = Endpoint | 'issuer-post';

/**
 * One login attempt on a fresh connection: GET /v2/, the issuer's GET, or its OAuth2 POST;
 * status 0 if the connection failed. `from` is the client's loopback address (127.0.0.2, …:
 * Linux routes all of 127/8 to lo), so one machine can be several clients.
 */
export function attempt(reg: Registry, endpoint: Route, user: string, password: string, from = '127.0.0.1'): Promise<number> {
  const u = new URL(reg.url);
  let method = 'GET';
  let target = '/v2/';
  let body: string | undefined;
  const headers: Record<string, string | number> = {};
  if (endpoint === 'issuer-post') {
    method = 'POST';
    target = ISSUER_PATH;
    body = new URLSearchParams({ grant_type: 'password', service: 'security', username: user, password, scope: 'repository:app:pull' }).toString();
    headers['Content-Type'] = 'application/x-www-form-urlencoded';
    headers['Content-Length'] = Buffer.byteLength(body);
  } else {
    if (endpoint === 'issuer') target = `${ISSUER_PATH}?service=security&scope=repository:app:pull`;
    headers.Authorization = basic(user, password);
  }
  return new Promise((resolve) => {
    const req = http.request({ host: u.hostname, port: Number(u.port), localAddress: from, method, path: target, headers, agent: false }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
    });
    // A connection refused or reset (a full accept queue) is an attempt that never reached a check.
    req.on('error', () => resolve(0));
    req.end(body);
  });
}

/** `n` attempts at once, n-1 with distinct wrong passwords and `password` last. */
export async function parallelLogins(reg: Registry, endpoint: Route, n: number, o: { user?: string; password?: string; from?: string } = {}): Promise<Tally> {
  const statuses = await Promise.all(Array.from({ length: n }, (_, i) => attempt(reg, endpoint, o.user ?? USER, i === n - 1 ? (o.password ?? PASSWORD) : `wrong-${i}`, o.from)));
  return tallyOf(statuses);
}

export function tallyOf(statuses: number[]): Tally {
  const n = statuses.length;
  const tally: Tally = { ok: 0, unauthorized: 0, limited: 0, other: [], last: statuses[n - 1]!, checked: 0 };
  for (const s of statuses) {
    if (s === 200) tally.ok++;
    else if (s === 401) tally.unauthorized++;
    else if (s === 429) tally.limited++;
    else tally.other.push(s);
  }
  tally.checked = tally.ok + tally.unauthorized;
  return tally;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const n = Number(process.argv[2] ?? 60);
  const cost = Number(process.argv[3] ?? 10);
  const endpoint = (process.argv[4] ?? 'htpasswd') as Endpoint;
  const { reg, cleanup } = await startLimited({ endpoint, level: 'info', failures: 10, cost });
  try {
    const started = Date.now();
    const tally = await parallelLogins(reg, endpoint, n);
    console.log(JSON.stringify({ endpoint, n, cost, failures: 10, ...tally, ms: Date.now() - started }));
  } finally {
    await cleanup();
  }
}
