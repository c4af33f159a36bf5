import http from 'node:http';
import type { Logger } from 'pino';
import { type Clock, systemClock } from '../clock.js';
import type { Config, IndexValidation } from '../config/types.js';
import type { Descriptor } from '../oci/descriptor.js';
import { createDriver } from '../storage/driver/factory.js';
import type { StorageChange } from '../storage/changes.js';
import { Registry } from '../storage/registry.js';
import { purgeUploads } from '../storage/purge.js';
import { ReferrersTagKeeper } from '../storage/manifests/referrers-tags.js';
import { gcGuardRetention, scheduleGc } from '../gc/schedule.js';
import type { ClusterWorker } from '../cluster/worker.js';
import { Recorder } from '../policy/records/recorder.js';
import { PolicyRules } from '../policy/rules.js';
import { QuotaUsage } from '../policy/usage.js';
import { scheduleRetention, type ScheduledRetention } from '../policy/retention-schedule.js';
import { RedisRecords } from '../policy/records/redis-records.js';
import { StorageRecords } from '../policy/records/storage-records.js';
import { createHandler } from './dispatch.js';
import { startTracing, tracer } from '../tracing/index.js';
import { bind, bindTcp, portOf } from './bind.js';
import { createListener } from './listener.js';
import type { JobLock } from '../redis/lock.js';
import type { HealthView } from '../health/debug.js';
import { startHealthChecks } from '../health/setup.js';
import type { Notifier } from '../notifications/notifier.js';
import { compileGoRegExp } from '../config/regexp.js';
import { durationToMs } from '../config/duration.js';

/**
 * How long tag targets, link presence, blob sizes and the catalog read from storage are trusted
 * before being read again. This process's own writes are seen at once; another process's writes
 * to the same storage (a second replica, Distribution itself) within this bound.
 */
const METADATA_TTL_MS = 1000;

/**
 * On object stores a process starts listening once its warm-up (registry.warmUp) is done, but
 * waits no longer than this for a slow or unreachable store: the first requests a load balancer
 * sends a new instance then find the store's client past its first-use costs (100-150 ms) and
 * the first catalog page (the saved catalog, or the first pages of a walk) in memory.
 */
const WARM_UP_WAIT_MS = 5000;

export interface RunningServer {
  /** Base URL the registry answers on (for a unix socket: "unix:<path>"). */
  readonly url: string;
  /** The TCP port listened on (0 for a unix socket). */
  readonly port: number;
  readonly registry: Registry;
  /** berth.retention's scheduled runs (docs/policy.md); absent in a worker that runs no once-only jobs. */
  readonly retention?: ScheduledRetention;
  /** Base URL of the debug server (http.debug.addr: /debug/health, metrics), when configured. */
  readonly debugUrl?: string;
  /** Stops accepting connections, lets requests in flight finish for up to http.draintimeout, then closes. */
  close(): Promise<void>;
}

export interface ServerOptions {
  /** The clock of background jobs (garbage collection, upload purging and its age), job-lock renewals, and the mirror's tokens and expiry (tests move their own). */
  clock?: Clock;
  /**
   * This process is one of `berth serve`'s workers (src/cluster/): writes are announced to the
   * other workers and theirs applied here (unless redis carries them), failed logins are counted
   * by the primary, the once-only jobs run only in the jobs worker, and the primary serves the
   * debug server from every worker's health and metrics.
   */
  worker?: ClusterWorker;
}

/** Builds the storage, the HTTP(S) server and the background jobs from a loaded configuration. */
export async function startServer(config: Config, logger: Logger, options: ServerOptions = {}): Promise<RunningServer> {
  const clock = options.clock ?? systemClock;
  const { worker } = options;
  const jobs = !worker || worker.jobs;
  const prometheus = Boolean(config.http.debug?.prometheus?.enabled);
  // Tracing (OTEL_* environment, src/tracing) first, so that redis, the driver and the mirror
  // start with it; the OpenTelemetry packages are loaded only when it is asked for.
  const stopTracing = await startTracing(logger);
  // redis: instances tell each other when they change storage (cache invalidation), and share
  // blob descriptors when storage.cache.blobdescriptor is redis (src/redis, docs/deployment.md).
  // Optional parts are imported only when configured: each brings dependencies a plain registry
  // does not need to load or keep in memory.
  const redis = config.redis ? await import('../redis/index.js') : undefined;
  const shared = redis ? await redis.startShared(config, logger) : undefined;
  const storageMetrics = prometheus ? await import('../metrics/storage.js') : undefined;
  const onOperation = storageMetrics?.driverMetricsHook();
  const created = await createDriver(config.storage.driver, config.storage.parameters, onOperation ? { onOperation } : {});
  const base = config.middleware?.storage.length
    ? await (await import('../storage/middleware/index.js')).applyStorageMiddleware(created, config.middleware.storage, logger).catch(async (err: unknown) => {
      await created.close?.();
      throw err;
    })
    : created;
  if (!config.http.secret) {
    logger.warn('http.secret is not set: a random one is used, so uploads cannot move between instances behind a load balancer');
  }
  const bus = shared?.bus;
  // Changes go to the other instances and workers through redis when it is configured (each
  // worker is an instance there), else to the other workers through the primary.
  const announce = bus ? (changes: StorageChange[]) => bus.publish(...changes) : worker ? (changes: StorageChange[]) => worker.announce(changes) : undefined;
  const registry = new Registry(base, {
    metadataTtlMs: metadataTtl(config),
    ...(announce ? { announce } : {}),
    quotas: Boolean(config.quotas?.length),
    policy: {
      skipReferenceChecks: config.validation.disabled,
      urlsAllow: config.validation.manifests.urls.allow.map(compileGoRegExp),
      urlsDeny: config.validation.manifests.urls.deny.map(compileGoRegExp),
      referrersTags: config.referrers?.fallbackTags ? new ReferrersTagKeeper() : undefined,
      indexChildRequired: indexChildRule(config.validation.manifests.indexes),
    },
  });

  registry.blobs.cacheCounters = storageMetrics?.blobDescriptorCacheCounters();
  if (worker) {
    if (!bus) worker.subscribe((changes) => registry.changes.apply(changes, 'remote'));
    registry.blobs.guard.peers = worker.guardPeers(registry.blobs.guard);
    if (!jobs) registry.blobs.guard.retentionMs = gcGuardRetention(config);
  }

  const warm = registry.warmUp(config.catalog.maxEntries + 1).catch((err: unknown) => logger.warn({ err }, 'storage: first listing at start-up failed'));

  const mirror = config.proxy
    ? new (await import('../proxy/mirror.js')).Mirror(config.proxy, registry, logger, clock, worker ? { peers: worker.mirrorPeers(), expiry: jobs } : {})
    : undefined;
  if (mirror) {
    await mirror.start();
    registry.mirror = mirror;
  }
  if (shared) {
    registry.blobs.shared = shared.descriptors;
    await shared.bus.subscribe((changes) => registry.changes.apply(changes, 'remote'));
  }
  // Pull and push records (docs/policy.md): in Redis when several instances share it, else beside
  // the layout (not written in read-only mode).
  const beside = new StorageRecords(registry.driver);
  const records = new Recorder(shared ? new RedisRecords(shared.client) : worker ? worker.recordStore(beside) : beside, clock, logger, {
    persist: Boolean(shared) || !config.storage.maintenance.readonly.enabled,
  });
  registry.records = records;
  // Immutable tags and quotas (docs/policy.md): quota usage is read from the layout before serving.
  let stopQuotaMetrics: () => void = () => undefined;
  if (config.immutableTags?.length || config.quotas?.length || config.retention?.policies.length) {
    const usage = config.quotas?.length ? new QuotaUsage(config.quotas, registry.driver, logger) : undefined;
    if (usage) {
      registry.changes.follow((changes) => usage.follow(changes));
      if (worker) usage.acrossWorkers(worker.quotaPeers(usage));
      await usage.load();
      if (prometheus) stopQuotaMetrics = (await import('../policy/metrics.js')).serveQuotaMetrics(usage);
    }
    registry.rules = new PolicyRules(config.immutableTags ?? [], usage, config.retention?.policies);
    // The tags those rules serialize are locked across every process sharing the storage.
    if (shared) registry.tagLocks = (await import('../redis/lock.js')).redisTagLocks(shared.client, clock);
    else if (worker) registry.tagLocks = worker.tagLocks();
  }

  // Every write goes through the registry's driver, which tells this process and the others of it.
  const driver = registry.driver;
  const auth = config.auth || config.berth?.auth
    ? await (await import('../auth/index.js')).createAuth(config, driver, logger, worker ? { loginLimits: (max, windowMs) => worker.loginLimits(max, windowMs) } : {})
    : undefined;
  const health = startHealthChecks(config, driver, logger);
  const notifier = config.notifications ? await (await import('../notifications/notifier.js')).Notifier.start(config.notifications, logger, config.http.addr) : undefined;
  const metrics = prometheus ? new (await import('../metrics/http.js')).HttpMetrics() : undefined;
  const { handler, inFlight } = createHandler(config, registry, logger, { auth, metrics, health, notifier });
  const listener = await createListener(config, tracer ? (await import('./traced.js')).tracedHandler(handler, tracer, config.http.prefix) : handler);
  const server = listener.server;
  await withinMs(warm, WARM_UP_WAIT_MS);
  // A worker does not listen: the primary has bound the address and hands it connections.
  const url = worker ? worker.takeConnections(server) : await bind(server, config);
  const port = portOf(url);
  let debug: Awaited<ReturnType<typeof startDebugServer>> | undefined;
  try {
    if (worker) {
      // The primary listens on http.debug.addr and asks every worker.
      worker.serveHealth(health);
      if (prometheus) {
        const { collectProcessMetrics, metricsRegistry } = await import('../metrics/registry.js');
        collectProcessMetrics();
        worker.serveMetrics(() => metricsRegistry().getMetricsAsJSON());
      }
    } else if (config.http.debug) debug = await startDebugServer(config.http.debug, health, logger);
  } catch (err) {
    // The registry must not keep serving (or holding its port) without the debug server it was configured with.
    health.stop();
    stopQuotaMetrics();
    listener.closeAll();
    await new Promise<void>((resolve) => server.close(() => resolve()));
    await stopTracing?.();
    throw err;
  }
  // Background jobs run on one instance at a time when several share the storage through redis.
  const { redisJobLock, runAlways } = await import('../redis/lock.js');
  const lock = shared ? redisJobLock(shared.client, undefined, clock) : runAlways;
  // With workers, once-only jobs run in the jobs worker.
  const stopPurging = jobs ? schedulePurging(config, registry, logger, lock, clock) : () => undefined;
  const gc = jobs ? scheduleGc(config, registry, logger, prometheus ? (await import('../gc/metrics.js')).gcMetricsHook() : undefined, lock, clock) : { stop: async () => undefined };
  const retention = jobs ? scheduleRetention(config, registry, records, logger, lock, clock) : undefined;

  let closing: Promise<void> | undefined;
  const close = () =>
    (closing ??= (async () => {
      stopPurging();
      stopQuotaMetrics();
      await retention?.stop();
      await gc.stop();
      const stopped = new Promise<void>((resolve) => server.close(() => resolve()));
      listener.closeIdle();
      // A draintimeout of 0 waits for every request (a second signal to the CLI still exits at once).
      const deadline = config.http.drainTimeoutMs > 0 ? Date.now() + config.http.drainTimeoutMs : Infinity;
      while (inFlight() > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 25));
      listener.closeAll();
      await stopped;
      // The jobs worker writes what the others send it (records, expiry pulls) until they have stopped.
      await worker?.othersStopped();
      await records.close();
      health.stop();
      await mirror?.close();
      await notifier?.close();
      auth?.controller.close?.();
      await debug?.close();
      await driver.close?.();
      await shared?.close();
      await stopTracing?.();
    })());
  return { url, port, registry, close, ...(retention ? { retention } : {}), ...(debug ? { debugUrl: debug.url } : {}) };
}

/** Waits for `work`, or `ms` at most. */
async function withinMs(work: Promise<unknown>, ms: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([work, new Promise((resolve) => (timer = setTimeout(resolve, ms)))]);
  clearTimeout(timer);
}

/**
 * berth.metadatattl (a duration; default 1s): how long metadata read from storage is trusted.
 * Several instances without redis must set 0 to see each other's writes at once, as
 * Distribution does; with redis, changes are pushed to every instance (src/redis/invalidation.ts).
 */
function metadataTtl(config: Config): number {
  const v = config.berth?.metadatattl;
  if (v === undefined || v === null || v === '') return METADATA_TTL_MS;
  const ms = typeof v === 'string' || typeof v === 'number' ? durationToMs(v) : undefined;
  if (ms === undefined || ms < 0) throw new Error(`berth.metadatattl: expected a duration such as 1s or 0, got ${JSON.stringify(v)}`);
  return ms;
}

/** The debug server on http.debug.addr (plain HTTP, as Distribution's): health, and metrics when enabled. */
export async function startDebugServer(
  debug: NonNullable<Config['http']['debug']>,
  health: HealthView,
  logger: Logger,
  metrics?: () => Promise<string>,
): Promise<{ url: string; close(): Promise<void> }> {
  const metricsPath = debug.prometheus?.enabled ? debug.prometheus.path : undefined;
  const { debugHandler } = await import('../health/debug.js');
  const server = http.createServer(debugHandler({ health, log: logger, ...(metricsPath ? { metricsPath } : {}), ...(metrics ? { metrics } : {}) }));
  const url = await bindTcp(server, debug.addr, 'http');
  logger.info({ addr: debug.addr, metrics: metricsPath ?? null }, 'debug server listening');
  return {
    url,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

function schedulePurging(config: Config, registry: Registry, logger: Logger, lock: JobLock, clock: Clock): () => void {
  const purging = config.storage.maintenance.uploadpurging;
  if (!purging.enabled || config.storage.maintenance.readonly.enabled) return () => undefined;
  const purge = async () => {
    const { purged, aborted } = await purgeUploads(registry.driver, { olderThan: new Date(clock.now() - purging.ageMs), dryRun: purging.dryrun });
    if (purged.length) logger.info({ count: purged.length, dryrun: purging.dryrun }, 'purged abandoned uploads');
    if (aborted.length) {
      logger.info(
        { count: aborted.length, dryrun: purging.dryrun, paths: aborted.slice(0, 20).map((w) => w.path) },
        purging.dryrun ? 'would abort abandoned multipart uploads with no upload folder (dry run)' : 'aborted abandoned multipart uploads with no upload folder',
      );
    }
  };
  const run = async () => {
    try {
      await lock('uploadpurging', purge);
    } catch (err) {
      logger.error({ err }, 'upload purging failed');
    }
  };
  // First run soon after start (jittered so replicas do not run together), then every interval.
  const stopFirst = clock.every(Math.min(purging.intervalMs, 30_000 + Math.random() * 30_000), () => {
    stopFirst();
    void run();
  });
  const stopEvery = clock.every(purging.intervalMs, () => void run());
  return () => {
    stopFirst();
    stopEvery();
  };
}

/** validation.manifests.indexes as the manifest store's rule; undefined when every child is required. */
function indexChildRule(indexes: IndexValidation): ((child: Descriptor) => boolean) | undefined {
  if (indexes.platforms === 'all') return undefined;
  if (indexes.platforms === 'none') return () => false;
  return (child) => indexes.platformlist.some((p) => p.os === child.platform?.os && p.architecture === child.platform?.architecture);
}
