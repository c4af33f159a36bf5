import { ConfigError } from '../config/errors.js';
import type { HealthConfig } from '../config/types.js';
import { headerMap, optBool, optDuration, optInt, optString } from '../notifications/config.js';

/**
 * `health` from Distribution's YAML → HealthConfig. Defaults: interval 10s (Distribution's),
 * threshold 0 (a single failure turns the check red), HTTP status 200. A timeout left unset is
 * the check's interval (Distribution waits without limit, which can leave a check stuck).
 */

const DEFAULT_INTERVAL_MS = 10_000;

type Raw = Record<string, unknown>;

function isMap(v: unknown): v is Raw {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function lowerKeys(v: Raw): Raw {
  return Object.fromEntries(Object.entries(v).map(([k, x]) => [k.toLowerCase(), x]));
}

function list(v: unknown, key: string): Raw[] {
  if (v === undefined || v === null) return [];
  if (!Array.isArray(v)) throw new ConfigError(`${key}: expected a list`);
  return v.map((item, i) => {
    if (!isMap(item)) throw new ConfigError(`${key}[${i}]: expected a map`);
    return lowerKeys(item);
  });
}

function interval(v: unknown, key: string): number {
  const ms = optDuration(v, key);
  return ms === undefined || ms <= 0 ? DEFAULT_INTERVAL_MS : ms;
}

export function buildHealth(raw: unknown): HealthConfig {
  if (!isMap(raw)) throw new ConfigError('health: expected a map');
  const h = lowerKeys(raw);
  const sd = isMap(h.storagedriver) ? lowerKeys(h.storagedriver) : {};
  return {
    storagedriver: {
      enabled: optBool(sd.enabled, 'health.storagedriver.enabled') ?? false,
      intervalMs: interval(sd.interval, 'health.storagedriver.interval'),
      threshold: optInt(sd.threshold, 'health.storagedriver.threshold') ?? 0,
    },
    file: list(h.file, 'health.file').map((f, i) => {
      const file = optString(f.file, `health.file[${i}].file`);
      if (!file) throw new ConfigError(`health.file[${i}].file: a path is required`);
      return { file, intervalMs: interval(f.interval, `health.file[${i}].interval`) };
    }),
    http: list(h.http, 'health.http').map((c, i) => {
      const key = `health.http[${i}]`;
      const uri = optString(c.uri, `${key}.uri`) ?? '';
      try {
        new URL(uri);
      } catch {
        throw new ConfigError(`${key}.uri: expected a URL, got ${JSON.stringify(uri)}`);
      }
      const intervalMs = interval(c.interval, `${key}.interval`);
      const timeout = optDuration(c.timeout, `${key}.timeout`);
      return {
        uri,
        headers: headerMap(c.headers, `${key}.headers`),
        statuscode: optInt(c.statuscode, `${key}.statuscode`) || 200,
        timeoutMs: timeout && timeout > 0 ? timeout : intervalMs,
        intervalMs,
        threshold: optInt(c.threshold, `${key}.threshold`) ?? 0,
      };
    }),
    tcp: list(h.tcp, 'health.tcp').map((c, i) => {
      const key = `health.tcp[${i}]`;
      const addr = optString(c.addr, `${key}.addr`) ?? '';
      if (!/^(\[[^\]]+\]|[^:]*):\d+$/.test(addr)) throw new ConfigError(`${key}.addr: expected host:port, got ${JSON.stringify(addr)}`);
      const intervalMs = interval(c.interval, `${key}.interval`);
      const timeout = optDuration(c.timeout, `${key}.timeout`);
      return { addr, timeoutMs: timeout && timeout > 0 ? timeout : intervalMs, intervalMs, threshold: optInt(c.threshold, `${key}.threshold`) ?? 0 };
    }),
  };
}
