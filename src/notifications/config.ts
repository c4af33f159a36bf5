import { ConfigError } from '../config/errors.js';
import { durationToMs } from '../config/duration.js';
import type { NotificationEndpointConfig, NotificationsConfig } from '../config/types.js';
import { notificationSinkFactory, registeredNotificationSinks } from './registry.js';

/**
 * `notifications` from Distribution's YAML (kept as plain data by the schema) → NotificationsConfig.
 * Defaults are Distribution's: timeout 1s, threshold 10, backoff 1s. `queuesize` is Berth's own
 * (Distribution's queue has no bound).
 */

export const DEFAULT_QUEUE_SIZE = 10_000;

type Raw = Record<string, unknown>;

function isMap(v: unknown): v is Raw {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function lowerKeys(v: Raw): Raw {
  return Object.fromEntries(Object.entries(v).map(([k, x]) => [k.toLowerCase(), x]));
}

export function optString(v: unknown, key: string): string | undefined {
  if (v === undefined || v === null) return undefined;
  if (typeof v === 'string') return v;
  if (typeof v === 'number' || typeof v === 'boolean') return String(v);
  throw new ConfigError(`${key}: expected a string, got ${JSON.stringify(v)}`);
}

export function optBool(v: unknown, key: string): boolean | undefined {
  if (v === undefined || v === null) return undefined;
  if (typeof v === 'boolean') return v;
  if (typeof v === 'string' && /^(true|false)$/i.test(v)) return v.toLowerCase() === 'true';
  throw new ConfigError(`${key}: invalid boolean ${JSON.stringify(v)} (expected true or false)`);
}

export function optInt(v: unknown, key: string): number | undefined {
  if (v === undefined || v === null) return undefined;
  const n = typeof v === 'string' && /^[+-]?\d+$/.test(v.trim()) ? Number(v) : v;
  if (typeof n !== 'number' || !Number.isInteger(n)) throw new ConfigError(`${key}: invalid integer ${JSON.stringify(v)}`);
  if (n < 0) throw new ConfigError(`${key}: must not be negative, got ${n}`);
  return n;
}

export function optDuration(v: unknown, key: string): number | undefined {
  if (v === undefined || v === null) return undefined;
  const ms = typeof v === 'string' || typeof v === 'number' ? durationToMs(v) : undefined;
  if (ms === undefined || ms < 0) throw new ConfigError(`${key}: invalid duration ${JSON.stringify(v)}`);
  return ms;
}

export function stringList(v: unknown, key: string): string[] {
  if (v === undefined || v === null) return [];
  const items = Array.isArray(v) ? v : [v];
  return items.map((x, i) => optString(x, `${key}[${i}]`) ?? '');
}

export function headerMap(v: unknown, key: string): Record<string, string[]> {
  if (v === undefined || v === null) return {};
  if (!isMap(v)) throw new ConfigError(`${key}: expected a map of header names to lists of values`);
  const out: Record<string, string[]> = {};
  for (const [name, values] of Object.entries(v)) out[name] = stringList(values, `${key}.${name}`);
  return out;
}

export function buildNotifications(raw: unknown): NotificationsConfig {
  if (!isMap(raw)) throw new ConfigError('notifications: expected a map');
  const section = lowerKeys(raw);
  const events = isMap(section.events) ? lowerKeys(section.events) : {};
  const list = section.endpoints ?? [];
  if (!Array.isArray(list)) throw new ConfigError('notifications.endpoints: expected a list of endpoints');
  const endpoints = list.map((item, i) => buildEndpoint(item, `notifications.endpoints[${i}]`));
  return {
    events: { includereferences: optBool(events.includereferences, 'notifications.events.includereferences') ?? false },
    endpoints,
  };
}

function buildEndpoint(item: unknown, key: string): NotificationEndpointConfig {
  if (!isMap(item)) throw new ConfigError(`${key}: expected a map`);
  const e = lowerKeys(item);
  const name = optString(e.name, `${key}.name`) ?? '';
  const url = optString(e.url, `${key}.url`) ?? '';
  const disabled = optBool(e.disabled, `${key}.disabled`) ?? false;
  const sink = optString(e.sink, `${key}.sink`);
  if (e.options !== undefined && e.options !== null && !isMap(e.options)) throw new ConfigError(`${key}.options: expected a map`);
  if (sink) {
    if (url) throw new ConfigError(`${key}: set url (the built-in HTTP sink) or sink (a plugin's), not both`);
    if (!notificationSinkFactory(sink) && !disabled) throw new ConfigError(`${key}.sink: unknown notification sink "${sink}" (known: ${registeredNotificationSinks().join(', ') || 'none'})`);
  } else if (!disabled) {
    let parsed: URL | undefined;
    try {
      parsed = new URL(url);
    } catch {
      parsed = undefined;
    }
    if (!parsed || (parsed.protocol !== 'http:' && parsed.protocol !== 'https:')) {
      throw new ConfigError(`${key}.url: expected an http or https URL, got ${JSON.stringify(url)}`);
    }
  }
  const ignore = isMap(e.ignore) ? lowerKeys(e.ignore) : {};
  const positive = (v: number | undefined, fallback: number) => (v === undefined || v <= 0 ? fallback : v);
  return {
    name: name || sink || url,
    url,
    ...(sink ? { sink: { name: sink, options: isMap(e.options) ? e.options : {} } } : {}),
    headers: headerMap(e.headers, `${key}.headers`),
    timeoutMs: positive(optDuration(e.timeout, `${key}.timeout`), 1000),
    threshold: positive(optInt(e.threshold, `${key}.threshold`), 10),
    backoffMs: positive(optDuration(e.backoff, `${key}.backoff`), 1000),
    ignoredmediatypes: stringList(e.ignoredmediatypes, `${key}.ignoredmediatypes`),
    ignore: { mediatypes: stringList(ignore.mediatypes, `${key}.ignore.mediatypes`), actions: stringList(ignore.actions, `${key}.ignore.actions`) },
    disabled,
    queuesize: positive(optInt(e.queuesize, `${key}.queuesize`), DEFAULT_QUEUE_SIZE),
  };
}
