import { ConfigError } from '../config/errors.js';
import { durationToMs } from '../config/duration.js';
import type { Config } from '../config/types.js';
import { registeredAccessControllers } from './controllers.js';
import { REPOSITORY_ACTIONS, type RepositoryAction } from './types.js';

/**
 * The auth settings, checked: Distribution's `auth.<controller>` section plus Berth's own
 * `berth.auth` (permissions, groups, token issuer, failed-login limits). Every problem is a
 * ConfigError naming the key.
 */
export type ControllerSettings =
  | { kind: 'silly'; realm: string; service: string }
  | { kind: 'htpasswd'; realm: string; path: string }
  | {
      kind: 'token';
      realm: string;
      service: string;
      issuer: string;
      rootcertbundle?: string;
      jwks?: string;
      autoredirect: boolean;
      autoredirectpath: string;
      signingalgorithms: string[];
    };

export interface PermissionRule {
  repositories: string[];
  users: string[];
  groups: string[];
  anonymous: boolean;
  actions: RepositoryAction[];
}

export interface IssuerSettings {
  /** URL path of the token endpoint (under http.prefix). */
  path: string;
  htpasswd: string;
  expirationMs: number;
  /** A PEM file for the signing key; by default it is kept in the storage driver (berth/auth/). */
  key?: string;
}

export interface AuthSettings {
  controller: ControllerSettings;
  permissions?: { rules: PermissionRule[]; groups: Record<string, string[]> };
  issuer?: IssuerSettings;
  ratelimit: { failures: number; windowMs: number };
}

/** Distribution's default token signing algorithms (asymmetric ones; HMAC needs a shared key). */
export const DEFAULT_SIGNING_ALGORITHMS = ['EdDSA', 'RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512', 'ES256', 'ES384', 'ES512'];

export function authSettings(config: Config): AuthSettings | undefined {
  if (!config.auth) return undefined;
  const [kind = ''] = Object.keys(config.auth);
  const params = config.auth[kind] ?? {};
  const berth = record(config.berth?.auth, 'berth.auth') ?? {};
  const controller = controllerSettings(kind, params);
  const settings: AuthSettings = { controller, ratelimit: ratelimit(berth.ratelimit) };
  if (berth.permissions !== undefined || berth.groups !== undefined) settings.permissions = permissions(berth);
  if (berth.tokenissuer !== undefined) {
    if (controller.kind !== 'token') throw new ConfigError('berth.auth.tokenissuer: the built-in token issuer needs auth.token');
    settings.issuer = issuer(berth.tokenissuer);
  }
  return settings;
}

function controllerSettings(kind: string, p: Record<string, unknown>): ControllerSettings {
  const key = `auth.${kind}`;
  switch (kind) {
    case 'silly':
      return { kind, realm: str(p.realm, `${key}.realm`, true), service: str(p.service, `${key}.service`, true) };
    case 'htpasswd':
      return { kind, realm: str(p.realm, `${key}.realm`) || 'Berth', path: str(p.path, `${key}.path`, true) };
    case 'token': {
      const rootcertbundle = str(p.rootcertbundle, `${key}.rootcertbundle`);
      const jwks = str(p.jwks, `${key}.jwks`);
      const autoredirect = bool(p.autoredirect, `${key}.autoredirect`);
      const algorithms = list(p.signingalgorithms, `${key}.signingalgorithms`);
      for (const alg of algorithms) {
        if (!DEFAULT_SIGNING_ALGORITHMS.includes(alg) && !['HS256', 'HS384', 'HS512'].includes(alg)) {
          throw new ConfigError(`${key}.signingalgorithms: unsupported signing algorithm "${alg}"`);
        }
        if (alg.startsWith('HS')) throw new ConfigError(`${key}.signingalgorithms: ${alg} needs a shared secret, which token auth does not take; use an asymmetric algorithm`);
      }
      return {
        kind,
        realm: str(p.realm, `${key}.realm`, !autoredirect),
        service: str(p.service, `${key}.service`, true),
        issuer: str(p.issuer, `${key}.issuer`, true),
        ...(rootcertbundle ? { rootcertbundle } : {}),
        ...(jwks ? { jwks } : {}),
        autoredirect,
        autoredirectpath: str(p.autoredirectpath, `${key}.autoredirectpath`) || '/auth/token',
        signingalgorithms: algorithms.length ? algorithms : DEFAULT_SIGNING_ALGORITHMS,
      };
    }
    default:
      throw new ConfigError(`auth: unknown access controller "${kind}" (known: ${registeredAccessControllers().join(', ')})`);
  }
}

function permissions(berth: Record<string, unknown>): NonNullable<AuthSettings['permissions']> {
  const groups: Record<string, string[]> = {};
  for (const [name, members] of Object.entries(record(berth.groups, 'berth.auth.groups') ?? {})) {
    groups[name] = list(members, `berth.auth.groups.${name}`);
  }
  const raw = berth.permissions ?? [];
  if (!Array.isArray(raw)) throw new ConfigError('berth.auth.permissions: expected a list of rules');
  const rules = raw.map((item, i): PermissionRule => {
    const key = `berth.auth.permissions[${i}]`;
    const r = record(item, key) ?? {};
    const repositories = list(r.repositories, `${key}.repositories`);
    if (repositories.length === 0) throw new ConfigError(`${key}.repositories: at least one repository pattern is required`);
    for (const pattern of repositories) {
      if (!/^[a-z0-9._/*-]+$/.test(pattern)) throw new ConfigError(`${key}.repositories: invalid pattern "${pattern}" (lower-case names, "/", "*" and "**")`);
    }
    const anonymous = bool(r.anonymous, `${key}.anonymous`);
    const users = list(r.users, `${key}.users`);
    const ruleGroups = list(r.groups, `${key}.groups`);
    for (const g of ruleGroups) if (!(g in groups)) throw new ConfigError(`${key}.groups: unknown group "${g}" (define it under berth.auth.groups)`);
    if (!anonymous && users.length === 0 && ruleGroups.length === 0) throw new ConfigError(`${key}: name users, groups, or anonymous: true`);
    const given = r.actions === undefined ? ['pull'] : list(r.actions, `${key}.actions`);
    const actions = given.map((a) => {
      const action = REPOSITORY_ACTIONS.find((x) => x === a);
      if (!action) throw new ConfigError(`${key}.actions: unknown action "${a}" (expected pull, push or delete)`);
      return action;
    });
    if (anonymous && actions.some((a) => a !== 'pull')) throw new ConfigError(`${key}: anonymous access can only be pull`);
    return { repositories, users, groups: ruleGroups, anonymous, actions };
  });
  return { rules, groups };
}

function issuer(value: unknown): IssuerSettings {
  const key = 'berth.auth.tokenissuer';
  const p = record(value, key) ?? {};
  const path = str(p.path, `${key}.path`) || '/auth/token';
  if (!path.startsWith('/') || path.startsWith('/v2')) throw new ConfigError(`${key}.path: expected an absolute path outside /v2/, got "${path}"`);
  const expirationMs = p.expiration === undefined ? 5 * 60_000 : duration(p.expiration, `${key}.expiration`);
  if (expirationMs < 1000 || expirationMs > 24 * 3600_000) throw new ConfigError(`${key}.expiration: must be between 1s and 24h`);
  const keyPath = str(p.key, `${key}.key`);
  return { path, htpasswd: str(p.htpasswd, `${key}.htpasswd`, true), expirationMs, ...(keyPath ? { key: keyPath } : {}) };
}

function ratelimit(value: unknown): AuthSettings['ratelimit'] {
  const key = 'berth.auth.ratelimit';
  const p = record(value, key) ?? {};
  const failures = p.failures === undefined ? 10 : p.failures;
  if (typeof failures !== 'number' || !Number.isInteger(failures) || failures < 0) throw new ConfigError(`${key}.failures: expected a whole number (0 turns limiting off)`);
  const windowMs = p.window === undefined ? 60_000 : duration(p.window, `${key}.window`);
  if (windowMs <= 0) throw new ConfigError(`${key}.window: must be positive`);
  return { failures, windowMs };
}

function record(value: unknown, key: string): Record<string, unknown> | undefined {
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'object' || Array.isArray(value)) throw new ConfigError(`${key}: expected a map`);
  return value as Record<string, unknown>;
}

function str(value: unknown, key: string, required = false): string {
  if (value === undefined || value === null || value === '') {
    if (required) throw new ConfigError(`${key}: required`);
    return '';
  }
  if (typeof value !== 'string') throw new ConfigError(`${key}: expected a string`);
  return value;
}

function bool(value: unknown, key: string): boolean {
  if (value === undefined || value === null) return false;
  if (typeof value === 'boolean') return value;
  if (value === 'true' || value === 'false') return value === 'true';
  throw new ConfigError(`${key}: expected true or false`);
}

function list(value: unknown, key: string): string[] {
  if (value === undefined || value === null) return [];
  if (typeof value === 'string') return [value];
  if (!Array.isArray(value) || value.some((v) => typeof v !== 'string')) throw new ConfigError(`${key}: expected a list of strings`);
  return value as string[];
}

function duration(value: unknown, key: string): number {
  const ms = typeof value === 'string' || typeof value === 'number' ? durationToMs(value) : undefined;
  if (ms === undefined) throw new ConfigError(`${key}: expected a duration such as 5m or 30s`);
  return ms;
}
