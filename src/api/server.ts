import http from 'node:http';
import https from 'node:https';
import { readFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import type { Logger } from 'pino';
import type { Config } from '../config/types.js';
import { createDriver } from '../storage/driver/factory.js';
import { Registry } from '../storage/registry.js';
import { purgeUploads } from '../storage/purge.js';
import { scheduleGc } from '../gc/schedule.js';
import { createHandler } from './dispatch.js';
import { createAuth } from '../auth/index.js';
import { compileGoRegExp } from '../config/regexp.js';

/**
 * How long tag targets, link presence, blob sizes and the catalog read from storage are trusted
 * before being read again. This process's own writes are seen at once; another process's writes
 * to the same storage (a second replica, Distribution itself) within this bound.
 */
const METADATA_TTL_MS = 1000;

export interface RunningServer {
  /** Base URL the registry answers on (for a unix socket: "unix:<path>"). */
  readonly url: string;
  readonly registry: Registry;
  /** Stops accepting connections, lets requests in flight finish for up to http.draintimeout, then closes. */
  close(): Promise<void>;
}

/** Builds the storage, the HTTP(S) server and the background jobs from a loaded configuration. */
export async function startServer(config: Config, logger: Logger): Promise<RunningServer> {
  const driver = await createDriver(config.storage.driver, config.storage.parameters);
  const registry = new Registry(driver, {
    metadataTtlMs: METADATA_TTL_MS,
    policy: {
      skipReferenceChecks: config.validation.disabled,
      urlsAllow: config.validation.manifests.urls.allow.map(compileGoRegExp),
      urlsDeny: config.validation.manifests.urls.deny.map(compileGoRegExp),
    },
  });

  const auth = await createAuth(config, driver, logger);
  const { handler, inFlight } = createHandler(config, registry, logger, auth);
  const server = createHttpServer(config, handler);
  const url = await listen(server, config);
  const stopPurging = schedulePurging(config, registry, logger);
  const gc = scheduleGc(config, registry, logger);

  let closing: Promise<void> | undefined;
  const close = () =>
    (closing ??= (async () => {
      stopPurging();
      await gc.stop();
      const stopped = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeIdleConnections();
      // A draintimeout of 0 waits for every request (a second signal to the CLI still exits at once).
      const deadline = config.http.drainTimeoutMs > 0 ? Date.now() + config.http.drainTimeoutMs : Infinity;
      while (inFlight() > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 25));
      server.closeAllConnections();
      await stopped;
      await driver.close?.();
    })());
  return { url, registry, close };
}

function createHttpServer(config: Config, handler: http.RequestListener): http.Server {
  const options: http.ServerOptions = {
    // Blob uploads may take as long as they take; headers must still arrive promptly.
    requestTimeout: 0,
    headersTimeout: 60_000,
    keepAliveTimeout: 65_000,
  };
  const tls = config.http.tls;
  if (!tls) return http.createServer(options, handler);
  const versions = { 'tls1.0': 'TLSv1', 'tls1.1': 'TLSv1.1', 'tls1.2': 'TLSv1.2', 'tls1.3': 'TLSv1.3' } as const;
  return https.createServer(
    {
      ...options,
      cert: readFileSync(tls.certificate),
      key: readFileSync(tls.key),
      minVersion: versions[tls.minimumtls ?? 'tls1.2'],
      ca: tls.clientcas?.map((f) => readFileSync(f)),
      requestCert: Boolean(tls.clientcas?.length),
      rejectUnauthorized: Boolean(tls.clientcas?.length),
      ciphers: tls.ciphersuites?.join(':'),
    },
    handler,
  );
}

async function listen(server: http.Server, config: Config): Promise<string> {
  const scheme = config.http.tls ? 'https' : 'http';
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    if (config.http.net === 'unix') server.listen(config.http.addr, () => resolve());
    else {
      const { host, port } = splitAddr(config.http.addr);
      server.listen(port, host, () => resolve());
    }
  });
  const address = server.address();
  if (typeof address === 'string' || address === null) return `unix:${config.http.addr}`;
  const { address: host, port, family } = address as AddressInfo;
  const shown = host === '::' || host === '0.0.0.0' ? '127.0.0.1' : family === 'IPv6' ? `[${host}]` : host;
  return `${scheme}://${shown}:${port}`;
}

/** ":5000", "127.0.0.1:5000", "[::1]:5000", "localhost:0" → host and port. */
export function splitAddr(addr: string): { host: string | undefined; port: number } {
  const m = /^(?:\[([^\]]+)\]|([^:]*)):(\d+)$/.exec(addr);
  if (!m) throw new Error(`http.addr: expected host:port, got "${addr}"`);
  return { host: m[1] ?? (m[2] || undefined), port: Number(m[3]) };
}

function schedulePurging(config: Config, registry: Registry, logger: Logger): () => void {
  const purging = config.storage.maintenance.uploadpurging;
  if (!purging.enabled || config.storage.maintenance.readonly.enabled) return () => undefined;
  const run = async () => {
    try {
      const { purged } = await purgeUploads(registry.driver, new Date(Date.now() - purging.ageMs), purging.dryrun);
      if (purged.length) logger.info({ count: purged.length, dryrun: purging.dryrun }, 'purged abandoned uploads');
    } catch (err) {
      logger.error({ err }, 'upload purging failed');
    }
  };
  // First run soon after start (jittered so replicas do not run together), then every interval.
  const first = setTimeout(run, Math.min(purging.intervalMs, 30_000 + Math.random() * 30_000));
  const every = setInterval(run, purging.intervalMs);
  first.unref();
  every.unref();
  return () => {
    clearTimeout(first);
    clearInterval(every);
  };
}
