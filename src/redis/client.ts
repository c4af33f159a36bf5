import { Redis, type RedisOptions } from 'ioredis';
import type { Logger } from 'pino';
import { durationToMs } from '../config/duration.js';
import { tracer } from '../tracing/index.js';
import { traceRedisCommands } from './tracing.js';

/**
 * The `redis` section (Distribution's keys): addr, password, db, dialtimeout, readtimeout,
 * writetimeout, pool {maxidle, maxactive, idletimeout}, tls {enabled}. ioredis multiplexes every
 * command over one pipelined connection, so `pool` has no effect (accepted, noted in
 * docs/deployment.md). Berth opens two connections: one for commands, one for pub/sub.
 */
export interface RedisSettings {
  host: string;
  port: number;
  password?: string;
  username?: string;
  db: number;
  dialTimeoutMs: number;
  /** The larger of readtimeout and writetimeout: how long one command may take (0: no limit). */
  commandTimeoutMs: number;
  tls: boolean;
}

function duration(section: Record<string, unknown>, key: string): number {
  const v = section[key];
  if (v === undefined || v === null || v === '') return 0;
  const ms = durationToMs(v as never);
  if (ms === undefined || ms < 0) throw new Error(`redis.${key}: expected a duration such as 5s or 500ms, got ${JSON.stringify(v)}`);
  return ms;
}

export function parseRedisSettings(section: Record<string, unknown>): RedisSettings {
  const addr = section.addr ?? (Array.isArray(section.addrs) ? section.addrs[0] : undefined);
  if (typeof addr !== 'string' || !addr) throw new Error('redis.addr: required (host:port)');
  const m = /^(?:\[([^\]]+)\]|([^:]+)):(\d+)$/.exec(addr);
  if (!m) throw new Error(`redis.addr: expected host:port, got "${addr}"`);
  const db = section.db === undefined ? 0 : Number(section.db);
  if (!Number.isInteger(db) || db < 0) throw new Error(`redis.db: expected a whole number, got ${JSON.stringify(section.db)}`);
  const tlsSection = section.tls;
  const tls = typeof tlsSection === 'object' && tlsSection !== null
    ? String((tlsSection as Record<string, unknown>).enabled ?? 'true') === 'true'
    : false;
  const settings: RedisSettings = {
    host: m[1] ?? m[2]!,
    port: Number(m[3]),
    db,
    dialTimeoutMs: duration(section, 'dialtimeout') || 10_000,
    commandTimeoutMs: Math.max(duration(section, 'readtimeout'), duration(section, 'writetimeout')),
    tls,
  };
  if (typeof section.password === 'string' && section.password) settings.password = section.password;
  if (typeof section.username === 'string' && section.username) settings.username = section.username;
  return settings;
}

/** An ioredis client, connecting (see connected()). Errors are logged (ioredis reconnects by itself). */
export function createRedis(settings: RedisSettings, logger: Logger, role: string): Redis {
  const options: RedisOptions = {
    host: settings.host,
    port: settings.port,
    db: settings.db,
    connectTimeout: settings.dialTimeoutMs,
    maxRetriesPerRequest: 2,
    // While Redis is away a command fails at once instead of waiting in a queue for reconnects
    // (each command waited 15-60 s, holding the request that sent it): callers fall back to
    // storage (blob descriptors) or to the cache TTL (invalidation). docs/operations.md, "Failure modes".
    enableOfflineQueue: false,
    lazyConnect: false,
  };
  if (settings.commandTimeoutMs > 0) options.commandTimeout = settings.commandTimeoutMs;
  if (settings.password) options.password = settings.password;
  if (settings.username) options.username = settings.username;
  if (settings.tls) options.tls = {};
  if (tracer) traceRedisCommands();
  const client = new Redis(options);
  let lastLogged = 0;
  client.on('error', (err: Error) => {
    // ioredis retries forever; one line per 10 s is enough.
    if (Date.now() - lastLogged > 10_000) {
      lastLogged = Date.now();
      logger.error({ err, role }, 'redis connection error');
    }
  });
  return client;
}

/** Resolves once `client` is connected, or rejects with its last error after `timeoutMs`. */
export function connected(client: Redis, timeoutMs: number): Promise<void> {
  if (client.status === 'ready') return Promise.resolve();
  return new Promise((resolve, reject) => {
    let last: Error | undefined;
    const onError = (err: Error) => {
      last = err;
    };
    const done = (err?: Error) => {
      clearTimeout(timer);
      client.off('ready', onReady);
      client.off('error', onError);
      if (err) reject(err);
      else resolve();
    };
    const onReady = () => done();
    const timer = setTimeout(() => done(last ?? new Error(`not connected within ${timeoutMs} ms`)), timeoutMs);
    client.on('ready', onReady);
    client.on('error', onError);
  });
}
