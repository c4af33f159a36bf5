import path from 'node:path';
import { DEFAULT_HTTP_LIMITS, type CatalogConfig, type Config, type GcConfig, type HttpLimits, type IndexValidation, type ReferrersConfig, type HttpConfig, type LogConfig, type StorageConfig, type UiConfig, type ValidationConfig } from './types.js';
import { durationToMs } from './duration.js';
import { ConfigError } from './errors.js';
import { compileGoRegExp } from './regexp.js';
import type { ParsedFile } from './schema.js';
import { TypedScalar } from './yaml.js';
import { buildNotifications } from '../notifications/config.js';
import { buildHealth } from '../health/config.js';
import { buildMirror } from '../proxy/config.js';
import { buildMiddleware } from '../storage/middleware/config.js';
import { buildPolicy } from '../policy/config.js';

/** Defaults and cross-key rules applied after the schema; every default here is Distribution's. */

/** The keys under `storage` that are settings; any other key names the driver. */
export const STORAGE_SETTINGS: ReadonlySet<string> = new Set(['delete', 'redirect', 'cache', 'maintenance', 'tag']);
const LOG_LEVELS = ['error', 'warn', 'info', 'debug', 'trace'] as const;
const TLS_VERSIONS = ['tls1.0', 'tls1.1', 'tls1.2', 'tls1.3'] as const;
const DEFAULT_ADDR = ':5000';

/**
 * Sections Distribution knows that Berth does not act on yet. Remove a name when its feature
 * lands (auth is checked when the server starts: src/auth/config.ts; redis by src/redis/client.ts).
 */
export const NOT_YET_IMPLEMENTED = ['compatibility', 'reporting', 'policy'] as const;

export interface BuildOptions {
  /** Storage driver names that exist (the factory's registeredDrivers()). */
  drivers: readonly string[];
  /** Directory that relative paths (filesystem rootdirectory) are resolved against. */
  cwd: string;
}

export function checkVersion(version: unknown): void {
  if (version === undefined || version === null) throw new ConfigError('version: missing (this registry reads configuration version 0.1)');
  const text = version instanceof TypedScalar ? version.text : typeof version === 'string' ? version : undefined;
  if (text !== '0.1') {
    throw new ConfigError(`version: unsupported version ${JSON.stringify(text ?? String(version))} (expected 0.1)`);
  }
}

export function buildConfig(file: ParsedFile, options: BuildOptions, warn: (message: string) => void): Config {
  const config: Config = {
    version: '0.1',
    log: buildLog(file, warn),
    storage: buildStorage(file.storage, options, warn, file.redis !== undefined && file.redis !== null),
    http: buildHttp(file.http, warn),
    validation: buildValidation(file.validation, warn),
    catalog: buildCatalog(file.catalog),
  };
  for (const name of NOT_YET_IMPLEMENTED) {
    if (file[name] !== undefined) warn(`${name}: this section is not implemented yet and is ignored`);
  }
  if (file.auth !== undefined) {
    const types = Object.keys(file.auth);
    if (types.length !== 1) throw new ConfigError(`auth: exactly one access controller must be configured, got ${types.length === 0 ? 'none' : types.join(', ')}`);
    const [type = ''] = types;
    const params = file.auth[type];
    // `none`, which Distribution's reference lists among the providers, is no access control at all.
    if (type !== 'none') config.auth = { [type]: params && typeof params === 'object' && !Array.isArray(params) ? (params as Record<string, unknown>) : {} };
  }
  if (file.middleware) config.middleware = buildMiddleware(file.middleware, warn);
  if (file.notifications) config.notifications = buildNotifications(file.notifications);
  if (file.redis) config.redis = file.redis;
  if (file.health) config.health = buildHealth(file.health);
  const mirror = buildMirror(file.proxy, file.berth);
  if (mirror) config.proxy = mirror;
  if (file.berth) config.berth = file.berth;
  config.gc = buildGc(file.berth);
  config.ui = buildUi(file.berth);
  config.referrers = buildReferrers(file.berth);
  config.httpLimits = buildHttpLimits(file.berth);
  Object.assign(config, buildPolicy(file.berth, warn));
  return config;
}

/** A `berth.<name>` map with its keys lower-cased (REGISTRY_BERTH_* overrides create lower-case keys). */
function berthSection(berth: Record<string, unknown> | undefined, name: string): Record<string, unknown> {
  const v = berth?.[name] ?? {};
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new ConfigError(`berth.${name}: expected a map`);
  return Object.fromEntries(Object.entries(v).map(([k, x]) => [k.toLowerCase(), x]));
}

function flagOf(given: Record<string, unknown>, where: string, key: string, fallback: boolean): boolean {
  const v = given[key];
  if (v === undefined || v === null) return fallback;
  if (typeof v === 'boolean') return v;
  if (v === 'true' || v === 'false') return v === 'true';
  throw new ConfigError(`${where}.${key}: expected true or false, got ${JSON.stringify(v)}`);
}

/** berth.referrers: `fallbacktags` (off by default) keeps the referrers tag schema's tags. */
function buildReferrers(berth: Record<string, unknown> | undefined): ReferrersConfig {
  return { fallbackTags: flagOf(berthSection(berth, 'referrers'), 'berth.referrers', 'fallbacktags', false) };
}

/** berth.ui (docs/ui.md): the pages at `/` on by default, titled "Berth" unless named. */
function buildUi(berth: Record<string, unknown> | undefined): UiConfig {
  const given = berthSection(berth, 'ui');
  const title = given.title ?? 'Berth';
  if (typeof title !== 'string' && typeof title !== 'number') throw new ConfigError(`berth.ui.title: expected a string, got ${JSON.stringify(title)}`);
  const text = String(title).trim();
  if (text === '' || text.length > 100) throw new ConfigError('berth.ui.title: expected 1 to 100 characters');
  return { enabled: flagOf(given, 'berth.ui', 'enabled', true), title: text };
}

/** berth.http: header, body and keep-alive timeouts and a connection limit (types.ts HttpLimits). */
function buildHttpLimits(berth: Record<string, unknown> | undefined): HttpLimits {
  const given = berthSection(berth, 'http');
  const duration = (key: string, fallback: number, min: number): number => {
    const v = given[key];
    if (v === undefined || v === null || v === '') return fallback;
    const ms = typeof v === 'string' || typeof v === 'number' ? durationToMs(v) : undefined;
    if (ms === undefined || ms < min) throw new ConfigError(`berth.http.${key}: expected a duration of at least ${min} ms such as 30s, got ${JSON.stringify(v)}`);
    return ms;
  };
  const max = given.maxconnections;
  const maxConnections = max === undefined || max === null || max === '' ? DEFAULT_HTTP_LIMITS.maxConnections : Number(max);
  if (!Number.isSafeInteger(maxConnections) || maxConnections < 0) throw new ConfigError(`berth.http.maxconnections: expected a whole number (0: no limit), got ${JSON.stringify(max)}`);
  return {
    headerTimeoutMs: duration('headertimeout', DEFAULT_HTTP_LIMITS.headerTimeoutMs, 1),
    bodyTimeoutMs: duration('bodytimeout', DEFAULT_HTTP_LIMITS.bodyTimeoutMs, 0),
    keepAliveTimeoutMs: duration('keepalivetimeout', DEFAULT_HTTP_LIMITS.keepAliveTimeoutMs, 1),
    maxConnections,
  };
}

/** berth.gc (Berth-specific; Distribution ignores the `berth` key). */
function buildGc(berth: Record<string, unknown> | undefined): GcConfig {
  const given = berthSection(berth, 'gc');
  const flag = (key: string): boolean => flagOf(given, 'berth.gc', key, false);
  const duration = (key: string, fallback: number): number => {
    const v = given[key];
    if (v === undefined || v === null) return fallback;
    const ms = typeof v === 'string' || typeof v === 'number' ? durationToMs(v) : undefined;
    if (ms === undefined || ms < 0) throw new ConfigError(`berth.gc.${key}: expected a duration such as 1h or 30m, got ${JSON.stringify(v)}`);
    return ms;
  };
  const result: GcConfig = {
    enabled: flag('enabled'),
    intervalMs: duration('interval', 24 * 3600_000),
    graceMs: duration('grace', 3600_000),
    deleteUntagged: flag('deleteuntagged'),
    dryrun: flag('dryrun'),
  };
  if (result.enabled && result.intervalMs <= 0) throw new ConfigError('berth.gc.interval: must be greater than 0 when berth.gc.enabled is true');
  return result;
}

function buildLog(file: ParsedFile, warn: (message: string) => void): LogConfig {
  const log = file.log;
  if (file.loglevel !== undefined) warn('loglevel: deprecated, use log.level');
  const levelKey = log.level !== undefined ? 'log.level' : 'loglevel';
  const levelText = (log.level ?? file.loglevel ?? 'info').toLowerCase();
  const level = LOG_LEVELS.find((l) => l === levelText);
  if (!level) throw new ConfigError(`${levelKey}: invalid level "${levelText}" (expected one of ${LOG_LEVELS.join(', ')})`);
  let formatter: LogConfig['formatter'] = 'text';
  const f = log.formatter?.toLowerCase();
  if (f === 'json' || f === 'text') formatter = f;
  else if (f === 'logstash') {
    formatter = 'json';
    warn('log.formatter: logstash is not supported; using json');
  } else if (f !== undefined && f !== '') {
    throw new ConfigError(`log.formatter: unsupported formatter "${log.formatter}" (expected text, json or logstash)`);
  }
  if (log.hooks !== undefined && log.hooks !== null) warn('log.hooks: not implemented yet and ignored');
  if (log.reportcaller) warn('log.reportcaller: not implemented yet and ignored');
  return { level, formatter, fields: log.fields ?? {}, accesslog: { disabled: log.accesslog.disabled ?? false } };
}

function buildStorage(storage: ParsedFile['storage'], options: BuildOptions, warn: (message: string) => void, hasRedis = false): StorageConfig {
  const drivers = Object.keys(storage).filter((key) => !STORAGE_SETTINGS.has(key));
  if (drivers.length === 0) throw new ConfigError('storage: no storage driver configured');
  if (drivers.length > 1) {
    throw new ConfigError(`storage: multiple storage drivers configured (${drivers.join(', ')}); configure exactly one`);
  }
  const driver = drivers[0] ?? '';
  if (!options.drivers.includes(driver)) {
    throw new ConfigError(`storage: unknown driver "${driver}" (known: ${options.drivers.join(', ')})`);
  }
  const parameters: Record<string, unknown> = {};
  const given = (storage as Record<string, unknown>)[driver];
  for (const [key, value] of Object.entries((given as Record<string, unknown> | undefined) ?? {})) parameters[key.toLowerCase()] = value;
  if (driver === 'filesystem' && parameters.rootdirectory !== undefined) {
    if (typeof parameters.rootdirectory !== 'string' || parameters.rootdirectory === '') {
      throw new ConfigError(`storage.filesystem.rootdirectory: expected a directory path, got ${JSON.stringify(parameters.rootdirectory)}`);
    }
    parameters.rootdirectory = path.resolve(options.cwd, parameters.rootdirectory);
  }

  const cache = storage.cache;
  let blobdescriptor: StorageConfig['cache']['blobdescriptor'];
  const kind = cache.blobdescriptor ?? cache.layerinfo;
  if (cache.layerinfo !== undefined) warn('storage.cache.layerinfo: deprecated, use storage.cache.blobdescriptor');
  if (kind === 'inmemory') blobdescriptor = 'inmemory';
  else if (kind === 'redis' && hasRedis) blobdescriptor = 'redis';
  else if (kind === 'redis') warn('storage.cache.blobdescriptor: redis needs the redis section; blob descriptor caching is disabled');
  else if (kind !== undefined && kind !== '') warn(`storage.cache.blobdescriptor: unknown cache type "${kind}"; blob descriptor caching is disabled`);
  const size = cache.blobdescriptorsize ?? 10000;
  if (size < 0) throw new ConfigError(`storage.cache.blobdescriptorsize: must not be negative, got ${size}`);

  // Distribution purges uploads by default (enabled, 168h, 24h, no dry run). A given section
  // that leaves out age or interval gets the default for it (Distribution refuses to start).
  const purging = storage.maintenance.uploadpurging ?? {};
  const concurrency = storage.tag.concurrencylimit ?? 0;
  if (concurrency < 0) throw new ConfigError(`storage.tag.concurrencylimit: must not be negative, got ${concurrency}`);
  return {
    driver,
    parameters,
    delete: { enabled: storage.delete.enabled ?? false },
    redirect: { disable: storage.redirect.disable ?? false },
    cache: { ...(blobdescriptor ? { blobdescriptor } : {}), blobdescriptorsize: size },
    maintenance: {
      uploadpurging: {
        enabled: purging.enabled ?? true,
        ageMs: purging.age ?? 168 * 3600_000,
        intervalMs: purging.interval ?? 24 * 3600_000,
        dryrun: purging.dryrun ?? false,
      },
      readonly: { enabled: storage.maintenance.readonly.enabled ?? false },
    },
    tag: { concurrencylimit: concurrency },
  };
}

function normalisePrefix(prefix: string | undefined): string {
  const trimmed = (prefix ?? '').trim().replace(/\/+$/, '');
  if (trimmed === '') return '';
  return trimmed.startsWith('/') ? trimmed : `/${trimmed}`;
}

function buildHttp(http: ParsedFile['http'], warn: (message: string) => void): HttpConfig {
  const net = (http.net ?? 'tcp') || 'tcp';
  if (net !== 'tcp' && net !== 'unix') throw new ConfigError(`http.net: unsupported network "${net}" (expected tcp or unix)`);
  if (net === 'unix' && !http.addr) throw new ConfigError('http.addr: a socket path is required when http.net is unix');
  const result: HttpConfig = {
    addr: http.addr || DEFAULT_ADDR,
    net,
    prefix: normalisePrefix(http.prefix),
    relativeurls: http.relativeurls ?? false,
    drainTimeoutMs: http.draintimeout ?? 0,
    headers: http.headers,
  };
  if (http.host) {
    let url: URL | undefined;
    try {
      url = new URL(http.host);
    } catch {
      url = undefined;
    }
    if (!url || (url.protocol !== 'http:' && url.protocol !== 'https:') || !url.host) {
      throw new ConfigError(`http.host: invalid URL "${http.host}" (expected scheme://host[:port])`);
    }
    result.host = http.host.replace(/\/+$/, '');
  }
  if (http.secret) result.secret = http.secret;

  const tls = http.tls;
  if (tls.letsencrypt && Object.keys(tls.letsencrypt).length > 0) warn('http.tls.letsencrypt: not supported and ignored');
  if (tls.certificate || tls.key) {
    if (!tls.certificate) throw new ConfigError('http.tls.certificate: required when http.tls.key is set');
    if (!tls.key) throw new ConfigError('http.tls.key: required when http.tls.certificate is set');
    let minimumtls: (typeof TLS_VERSIONS)[number] | undefined;
    if (tls.minimumtls) {
      minimumtls = TLS_VERSIONS.find((v) => v === tls.minimumtls?.toLowerCase());
      if (!minimumtls) throw new ConfigError(`http.tls.minimumtls: unknown TLS version "${tls.minimumtls}" (expected one of ${TLS_VERSIONS.join(', ')})`);
      if (minimumtls === 'tls1.0' || minimumtls === 'tls1.1') {
        warn(`http.tls.minimumtls: ${minimumtls} lets clients use obsolete TLS versions; OpenSSL's security level is lowered to 0 on this listener so that their SHA-1 handshakes work`);
      }
    }
    result.tls = {
      certificate: tls.certificate,
      key: tls.key,
      ...(minimumtls ? { minimumtls } : {}),
      ...(tls.clientcas?.length ? { clientcas: tls.clientcas } : {}),
      ...(tls.ciphersuites?.length ? { ciphersuites: tls.ciphersuites } : {}),
      ...(tls.clientauth ? { clientauth: tls.clientauth } : {}),
    };
  }
  if (http.debug.addr) {
    const prom = http.debug.prometheus;
    result.debug = { addr: http.debug.addr, prometheus: { enabled: prom.enabled ?? false, path: prom.path || '/metrics' } };
  } else if (http.debug.prometheus.enabled) {
    warn('http.debug.prometheus: ignored because http.debug.addr is not set');
  }
  if (http.http2.disabled !== undefined) result.http2 = { disabled: http.http2.disabled };
  if (http.h2c.enabled !== undefined) result.h2c = { enabled: http.h2c.enabled };
  return result;
}

/** Distribution v3's default catalog page bound. */
const DEFAULT_CATALOG_MAX_ENTRIES = 1000;

function buildCatalog(catalog: ParsedFile['catalog']): CatalogConfig {
  const max = catalog.maxentries ?? DEFAULT_CATALOG_MAX_ENTRIES;
  if (max < 1) throw new ConfigError(`catalog.maxentries: must be a positive number of repositories, got ${max}`);
  return { maxEntries: max };
}

function buildIndexValidation(indexes: Record<string, unknown> | undefined): IndexValidation {
  const given = Object.fromEntries(Object.entries(indexes ?? {}).map(([k, v]) => [k.toLowerCase(), v]));
  const platforms = String(given.platforms ?? 'all').toLowerCase();
  if (platforms !== 'all' && platforms !== 'none' && platforms !== 'list') {
    throw new ConfigError(`validation.manifests.indexes.platforms: expected all, none or list, got ${JSON.stringify(given.platforms)}`);
  }
  const raw = given.platformlist ?? [];
  if (!Array.isArray(raw)) throw new ConfigError('validation.manifests.indexes.platformlist: expected a list of {os, architecture}');
  const platformlist = raw.map((p: unknown, i) => {
    const entry = typeof p === 'object' && p !== null ? (p as Record<string, unknown>) : {};
    if (typeof entry.os !== 'string' || typeof entry.architecture !== 'string') {
      throw new ConfigError(`validation.manifests.indexes.platformlist[${i}]: expected os and architecture`);
    }
    return { os: entry.os, architecture: entry.architecture };
  });
  if (platforms === 'list' && platformlist.length === 0) throw new ConfigError('validation.manifests.indexes.platformlist: platforms: list needs at least one platform');
  return { platforms, platformlist };
}

function buildValidation(validation: ParsedFile['validation'], warn: (message: string) => void): ValidationConfig {
  if (validation.enabled !== undefined) warn('validation.enabled: deprecated, use validation.disabled');
  const urls = validation.manifests.urls;
  for (const [list, patterns] of [['allow', urls.allow], ['deny', urls.deny]] as const) {
    (patterns ?? []).forEach((pattern, i) => {
      try {
        compileGoRegExp(pattern);
      } catch (error) {
        const reason = error instanceof Error ? error.message : String(error);
        throw new ConfigError(`validation.manifests.urls.${list}[${i}]: invalid regular expression ${JSON.stringify(pattern)}: ${reason}`);
      }
    });
  }
  const result: ValidationConfig = {
    // The deprecated `enabled: true` turns validation on whatever `disabled` says.
    disabled: (validation.disabled ?? false) && validation.enabled !== true,
    manifests: { urls: { allow: urls.allow ?? [], deny: urls.deny ?? [] }, indexes: buildIndexValidation(validation.manifests.indexes) },
  };
  return result;
}
