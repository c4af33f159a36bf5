import cluster from 'node:cluster';
import { guardProcess } from '../api/guard.js';
import type { RunningServer } from '../api/server.js';
import { startPrimary, WorkerStartError, type Primary } from '../cluster/primary.js';
import { ClusterWorker, SLOT_ENV } from '../cluster/worker.js';
import type { Config } from '../config/types.js';
import { workerCount } from '../cluster/workers.js';
import { ConfigError, defaultConfigText, readConfigFile } from '../config/load.js';
import { prepare, type Prepared } from '../launch.js';
import { createLogger, type Logger } from '../log.js';

/**
 * `berth serve [CONFIG]`: load the configuration (CONFIG, else $REGISTRY_CONFIGURATION_PATH as
 * Distribution reads it, else the built-in default), start the registry through the start-up
 * path startRegistry shares (src/launch.ts), and stop on SIGTERM or SIGINT after draining
 * in-flight requests (a second signal exits at once). Configuration problems, plugins that fail
 * to load included, print one line to stderr and exit 1.
 *
 * With berth.workers above 1 this process becomes the primary (src/cluster/primary.ts) and runs
 * the registry in that many workers, each of which comes back here as a cluster worker.
 */
export async function serve(file: string | undefined): Promise<void> {
  const chosen = file ?? (process.env.REGISTRY_CONFIGURATION_PATH || undefined);
  let prepared: Prepared;
  let workers: number;
  // A worker's log lines say which worker wrote them.
  const slot = cluster.isWorker ? process.env[SLOT_ENV] : undefined;
  const makeLogger = slot !== undefined ? { makeLogger: (config: Config) => createLogger(config.log).child({ worker: Number(slot) }) } : {};
  try {
    prepared = chosen !== undefined
      ? await prepare(readConfigFile(chosen), { env: process.env, source: `config file ${chosen}`, ...makeLogger })
      : await prepare(defaultConfigText, { env: process.env, source: 'default configuration', ...makeLogger });
    workers = workerCount(prepared.config);
  } catch (error) {
    if (error instanceof ConfigError) {
      process.stderr.write(`berth: ${error.message}\n`);
      process.exit(1);
    }
    throw error;
  }
  const { logger } = prepared;
  // A failure inside a request stays there; one outside any request exits (src/api/guard.ts).
  // Only the command does this: startRegistry leaves the embedding process's handlers alone.
  guardProcess(logger);
  if (chosen === undefined && !cluster.isWorker) logger.info('no configuration file given; using the built-in default');
  if (workers > 1 && cluster.isPrimary) return servePrimary(prepared, workers);

  const worker = ClusterWorker.current();
  let server: RunningServer;
  try {
    server = await prepared.start(worker ? { worker } : {});
  } catch (error) {
    // A configuration problem found while starting (a file it names, a plugin's parameters) is
    // still one line, as one found while loading; anything else is logged with its stack.
    if (error instanceof ConfigError) process.stderr.write(`berth: ${error.message}\n`);
    else logger.error({ err: error }, `cannot start: ${error instanceof Error ? error.message : String(error)}`);
    process.exit(1);
  }

  let stopping = false;
  const stop = (why: string): void => {
    if (stopping) return;
    stopping = true;
    logger.info(`${why}; draining in-flight requests`);
    server.close().then(
      () => {
        logger.info('stopped');
        process.exit(0);
      },
      (error: unknown) => {
        logger.error({ err: error }, 'error while stopping');
        process.exit(1);
      },
    );
  };
  if (worker) {
    // The primary says when to stop (a terminal's Ctrl-C reaches the workers too: the same drain).
    worker.ready(() => stop('told to stop by the primary'));
    logger.debug({ url: server.url }, 'worker listening');
  } else logger.info({ url: server.url }, `listening on ${server.url}`);
  onSignals(logger, (signal) => stop(`${signal} received`));
}

/** The primary: starts the workers, logs where they listen, and drains them all on a signal (one during start-up too, once all have started). */
async function servePrimary(prepared: Prepared, workers: number): Promise<void> {
  const { config, logger } = prepared;
  let primary: Primary | undefined;
  let stopAsked = false;
  const stopAll = (running: Primary) =>
    void running.stop().then((clean) => {
      logger.info('stopped');
      process.exit(clean ? 0 : 1);
    });
  onSignals(logger, (signal) => {
    logger.info(`${signal} received; draining in-flight requests on every worker`);
    if (primary) stopAll(primary);
    else stopAsked = true;
  }, () => primary?.kill());
  try {
    primary = await startPrimary(config, logger, workers);
  } catch (error) {
    // A worker that exited with a code has printed or logged why (as a single process would).
    if (error instanceof WorkerStartError && error.code !== null) process.exit(error.code || 1);
    logger.error({ err: error }, `cannot start: ${error instanceof Error ? error.message : String(error)}`);
    process.exit(1);
  }
  logger.info({ url: primary.url, workers, pids: primary.pids() }, `listening on ${primary.url} with ${workers} workers`);
  if (stopAsked) stopAll(primary);
}

/** The first SIGTERM or SIGINT calls `first`; a second exits at once (after `hard`). */
function onSignals(logger: Logger, first: (signal: NodeJS.Signals) => void, hard?: () => void): void {
  let received = false;
  const onSignal = (signal: NodeJS.Signals): void => {
    if (received) {
      logger.warn(`${signal} received again; exiting without waiting`);
      hard?.();
      process.exit(1);
    }
    received = true;
    first(signal);
  };
  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);
}
