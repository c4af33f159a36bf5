import { guardProcess } from '../api/guard.js';
import type { RunningServer } from '../api/server.js';
import { ConfigError, defaultConfigText, readConfigFile } from '../config/load.js';
import { prepare, type Prepared } from '../launch.js';

/**
 * `berth serve [CONFIG]`: load the configuration (CONFIG, else $REGISTRY_CONFIGURATION_PATH as
 * Distribution reads it, else the built-in default), start the registry through the start-up
 * path startRegistry shares (src/launch.ts), and stop on SIGTERM or SIGINT after draining
 * in-flight requests (a second signal exits at once). Configuration problems, plugins that fail
 * to load included, print one line to stderr and exit 1.
 */
export async function serve(file: string | undefined): Promise<void> {
  const chosen = file ?? (process.env.REGISTRY_CONFIGURATION_PATH || undefined);
  let prepared: Prepared;
  try {
    prepared = chosen !== undefined
      ? await prepare(readConfigFile(chosen), { env: process.env, source: `config file ${chosen}` })
      : await prepare(defaultConfigText, { env: process.env, source: 'default configuration' });
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
  if (chosen === undefined) logger.info('no configuration file given; using the built-in default');

  let server: RunningServer;
  try {
    server = await prepared.start();
  } catch (error) {
    // A configuration problem found while starting (a file it names, a plugin's parameters) is
    // still one line, as one found while loading; anything else is logged with its stack.
    if (error instanceof ConfigError) process.stderr.write(`berth: ${error.message}\n`);
    else logger.error({ err: error }, `cannot start: ${error instanceof Error ? error.message : String(error)}`);
    process.exit(1);
  }
  logger.info({ url: server.url }, `listening on ${server.url}`);

  let stopping = false;
  const onSignal = (signal: NodeJS.Signals): void => {
    if (stopping) {
      logger.warn(`${signal} received again; exiting without waiting`);
      process.exit(1);
    }
    stopping = true;
    logger.info(`${signal} received; draining in-flight requests`);
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
  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);
}
