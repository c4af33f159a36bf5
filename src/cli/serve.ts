import { guardProcess } from '../api/guard.js';
import { startServer as defaultStartServer, type RunningServer } from '../api/server.js';
import type { Config } from '../config/types.js';
import { ConfigError, defaultConfigText, loadConfigFile, parseConfig, type LoadedConfig } from '../config/load.js';
import { createLogger, type Logger } from '../log.js';

export type StartServer = (config: Config, logger: Logger) => Promise<RunningServer>;

/** Distribution reads the file named by REGISTRY_CONFIGURATION_PATH when none is given. */
export function resolveConfig(file: string | undefined, env: NodeJS.ProcessEnv): LoadedConfig {
  const chosen = file ?? (env.REGISTRY_CONFIGURATION_PATH || undefined);
  if (chosen !== undefined) return loadConfigFile(chosen, env);
  return parseConfig(defaultConfigText, env, { source: 'default configuration' });
}

/**
 * `berth serve [CONFIG]`: load the configuration, start the registry, and stop on SIGTERM or
 * SIGINT after draining in-flight requests (a second signal exits at once). Configuration
 * problems print one line to stderr and exit 1.
 */
export async function serve(file: string | undefined, startServer?: StartServer): Promise<void> {
  let loaded: LoadedConfig;
  try {
    loaded = resolveConfig(file, process.env);
  } catch (error) {
    if (error instanceof ConfigError) {
      process.stderr.write(`berth: ${error.message}\n`);
      process.exit(1);
    }
    throw error;
  }
  const { config, warnings } = loaded;
  const logger = createLogger(config.log);
  // A failure inside a request stays there; one outside any request exits (src/api/guard.ts).
  guardProcess(logger);
  for (const warning of warnings) logger.warn(warning);
  if (!file && !process.env.REGISTRY_CONFIGURATION_PATH) logger.info('no configuration file given; using the built-in default');

  let server: RunningServer;
  try {
    server = await (startServer ?? defaultStartServer)(config, logger);
  } catch (error) {
    logger.error({ err: error }, `cannot start: ${error instanceof Error ? error.message : String(error)}`);
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
