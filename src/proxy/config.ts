import { ConfigError } from '../config/errors.js';
import { durationToMs } from '../config/duration.js';
import type { MirrorConfig, UpstreamConfig } from '../config/types.js';

/**
 * The mirror's configuration, from two places:
 * - `proxy` (Distribution's: remoteurl, username, password, ttl, remotenamespace): one upstream
 *   for every name;
 * - `berth.proxy` (Berth's, ignored by Distribution): `upstreams`, each with a name `prefix`
 *   (or `default: true` for names matching no prefix), and timeouts.
 * Defaults: ttl 168h as Distribution (0 or a negative duration: never expire), timeout 10s,
 * idletimeout 30s. docs/mirror.md describes every key.
 */

export const DEFAULT_TTL_MS = 168 * 3600_000;
export const DEFAULT_TIMEOUT_MS = 10_000;
export const DEFAULT_IDLE_TIMEOUT_MS = 30_000;

type Raw = Record<string, unknown>;

function isMap(v: unknown): v is Raw {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function lowerKeys(v: Raw): Raw {
  return Object.fromEntries(Object.entries(v).map(([k, x]) => [k.toLowerCase(), x]));
}

function str(v: unknown, key: string): string | undefined {
  if (v === undefined || v === null || v === '') return undefined;
  if (typeof v === 'string') return v;
  if (typeof v === 'number' || typeof v === 'boolean') return String(v);
  throw new ConfigError(`${key}: expected a string, got ${JSON.stringify(v)}`);
}

function duration(v: unknown, key: string, fallback: number, allowNonPositive: boolean): number {
  if (v === undefined || v === null || v === '') return fallback;
  const ms = typeof v === 'string' || typeof v === 'number' ? durationToMs(v) : undefined;
  if (ms === undefined) throw new ConfigError(`${key}: invalid duration ${JSON.stringify(v)} (expected e.g. 168h, 30s)`);
  if (!allowNonPositive && ms <= 0) throw new ConfigError(`${key}: must be greater than 0, got ${JSON.stringify(v)}`);
  return Math.max(ms, 0);
}

function remoteUrl(v: unknown, key: string): string {
  const text = str(v, key);
  if (!text) throw new ConfigError(`${key}: required (the upstream registry's URL, e.g. https://registry-1.docker.io)`);
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw new ConfigError(`${key}: invalid URL ${JSON.stringify(text)}`);
  }
  if ((url.protocol !== 'http:' && url.protocol !== 'https:') || !url.host) throw new ConfigError(`${key}: expected an http or https URL, got ${JSON.stringify(text)}`);
  if (url.search || url.hash) throw new ConfigError(`${key}: must not have a query or fragment`);
  return `${url.protocol}//${url.host}${url.pathname.replace(/\/+$/, '')}`;
}

const PREFIX = /^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*(?:\/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*$/;

function upstream(raw: Raw, key: string, defaults: { timeoutMs: number; idleTimeoutMs: number }, prefix: string): UpstreamConfig {
  const username = str(raw.username, `${key}.username`);
  const password = str(raw.password, `${key}.password`);
  if ((username === undefined) !== (password === undefined)) throw new ConfigError(`${key}: username and password must be given together`);
  if (raw.exec !== undefined) throw new ConfigError(`${key}.exec: credential helpers are not supported; use username and password`);
  const namespace = str(raw.remotenamespace, `${key}.remotenamespace`)?.replace(/^\/+|\/+$/g, '');
  if (namespace !== undefined && !PREFIX.test(namespace)) throw new ConfigError(`${key}.remotenamespace: ${JSON.stringify(namespace)} is not a valid repository name prefix`);
  return {
    prefix,
    remoteurl: remoteUrl(raw.remoteurl, `${key}.remoteurl`),
    ...(username !== undefined && password !== undefined ? { username, password } : {}),
    ttlMs: duration(raw.ttl, `${key}.ttl`, DEFAULT_TTL_MS, true),
    timeoutMs: duration(raw.timeout, `${key}.timeout`, defaults.timeoutMs, false),
    idleTimeoutMs: duration(raw.idletimeout, `${key}.idletimeout`, defaults.idleTimeoutMs, false),
    ...(namespace ? { remotenamespace: namespace } : {}),
  };
}

/** `proxy` and `berth.proxy` → MirrorConfig; undefined when neither configures an upstream. */
export function buildMirror(proxy: unknown, berth: unknown): MirrorConfig | undefined {
  const upstreams: UpstreamConfig[] = [];
  const berthProxy = isMap(berth) ? lowerKeys(berth).proxy : undefined;
  if (berthProxy !== undefined && berthProxy !== null && !isMap(berthProxy)) throw new ConfigError('berth.proxy: expected a map');
  const bp = isMap(berthProxy) ? lowerKeys(berthProxy) : {};
  const defaults = {
    timeoutMs: duration(bp.timeout, 'berth.proxy.timeout', DEFAULT_TIMEOUT_MS, false),
    idleTimeoutMs: duration(bp.idletimeout, 'berth.proxy.idletimeout', DEFAULT_IDLE_TIMEOUT_MS, false),
  };

  if (proxy !== undefined && proxy !== null) {
    if (!isMap(proxy)) throw new ConfigError('proxy: expected a map');
    const p = lowerKeys(proxy);
    // An empty proxy section (or one without remoteurl) is no mirror, as in Distribution.
    if (str(p.remoteurl, 'proxy.remoteurl') !== undefined) upstreams.push(upstream(p, 'proxy', defaults, ''));
  }

  if (bp.upstreams !== undefined && bp.upstreams !== null) {
    if (!Array.isArray(bp.upstreams)) throw new ConfigError('berth.proxy.upstreams: expected a list');
    bp.upstreams.forEach((item, i) => {
      const key = `berth.proxy.upstreams[${i}]`;
      if (!isMap(item)) throw new ConfigError(`${key}: expected a map`);
      const u = lowerKeys(item);
      const isDefault = u.default === true || u.default === 'true';
      const prefix = str(u.prefix, `${key}.prefix`)?.replace(/\/+$/, '');
      if (isDefault && prefix) throw new ConfigError(`${key}: a default upstream has no prefix`);
      if (!isDefault && !prefix) throw new ConfigError(`${key}.prefix: required (or default: true for names matching no prefix)`);
      if (prefix && !PREFIX.test(prefix)) throw new ConfigError(`${key}.prefix: ${JSON.stringify(prefix)} is not a valid repository name prefix`);
      upstreams.push(upstream(u, key, defaults, prefix ?? ''));
    });
  }
  if (upstreams.length === 0) return undefined;

  const seen = new Set<string>();
  for (const u of upstreams) {
    if (seen.has(u.prefix)) {
      throw new ConfigError(u.prefix ? `berth.proxy.upstreams: prefix ${JSON.stringify(u.prefix)} is configured twice` : 'proxy: only one default upstream (proxy.remoteurl or one berth.proxy upstream with default: true)');
    }
    seen.add(u.prefix);
  }
  // Longest prefix first, so `ghcr/team` wins over `ghcr` for `ghcr/team/app`.
  upstreams.sort((a, b) => b.prefix.length - a.prefix.length);
  return { upstreams };
}
