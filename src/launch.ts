import { pino } from 'pino';
import type { RunningServer, ServerOptions } from './api/server.js';
import { loadConfig, type ConfigInput, type ParseOptions } from './config/load.js';
import { STORAGE_SETTINGS } from './config/build.js';
import type { Config } from './config/types.js';
import { isRecord } from './config/yaml.js';
import { createLogger, type Logger } from './log.js';

/**
 * The one start-up path `berth serve` and `startRegistry` share: the configuration (its plugins
 * loaded, REGISTRY_* applied from the env given), the logger, its warnings logged, then the
 * server. Split in two so that serve can print a configuration problem as one line before any
 * logger exists.
 */
export interface Prepared {
  readonly config: Config;
  readonly logger: Logger;
  /** Starts the storage, HTTP server and background jobs; rejects when any part cannot start. */
  start(options?: ServerOptions): Promise<RunningServer>;
}

export interface PrepareOptions extends ParseOptions {
  /** REGISTRY_* overrides (serve passes process.env). */
  env: NodeJS.ProcessEnv;
  /** Makes the logger; by default one from the configuration's `log`. */
  makeLogger?: (config: Config) => Logger;
}

/** Loads the configuration and makes the logger. Rejects with a ConfigError (one line) on a bad configuration. */
export async function prepare(input: ConfigInput, options: PrepareOptions): Promise<Prepared> {
  const { env, makeLogger, ...parse } = options;
  const { config, warnings } = await loadConfig(input, env, parse);
  const logger = makeLogger ? makeLogger(config) : createLogger(config.log);
  for (const warning of warnings) logger.warn(warning);
  // The server's modules load only when it starts: a cluster's primary never starts one, and
  // loading them cost it 7 MiB of resident memory for nothing (docs/performance.md).
  return { config, logger, start: async (serverOptions) => (await import('./api/server.js')).startServer(config, logger, serverOptions) };
}

export interface StartRegistryOptions {
  /**
   * A Distribution-format configuration (version 0.1): YAML text, or the same shape as plain data.
   * What it leaves out: `version` 0.1, `inmemory` storage, `http.addr` 127.0.0.1 on a free port,
   * and no logs (unless it sets `log.level`).
   */
  config?: ConfigInput;
  /** REGISTRY_* overrides, applied as `berth serve` applies the process's; none unless given. */
  env?: NodeJS.ProcessEnv;
  /** Where relative paths in the configuration start (default: the process's working directory). */
  cwd?: string;
  /** A pino logger to log to, whatever the configuration's `log` says. */
  logger?: Logger;
}

export interface RunningRegistry {
  /** The base URL, e.g. "http://127.0.0.1:40123" (for a unix socket: "unix:<path>"). */
  readonly url: string;
  /** The TCP port listened on (0 for a unix socket). */
  readonly port: number;
  /**
   * Stops everything the registry started: the listener (requests in flight may finish, within
   * http.draintimeout), background jobs, timers, health checks, notification queues, redis
   * connections, the storage driver. Once it resolves nothing of the registry keeps the process alive.
   */
  close(): Promise<void>;
}

/**
 * Starts a registry inside this process: a real one, with the same configuration, storage and
 * HTTP behaviour as `berth serve`, for tests and tools (docs/library.md).
 */
export async function startRegistry(options: StartRegistryOptions = {}): Promise<RunningRegistry> {
  let logsWanted = false;
  const prepared = await prepare(options.config ?? {}, {
    env: options.env ?? {},
    ...(options.cwd ? { cwd: options.cwd } : {}),
    defaultVersion: true,
    fillDefaults: (tree) => {
      logsWanted = embeddedDefaults(tree);
    },
    makeLogger: (config) => options.logger ?? (logsWanted ? createLogger(config.log) : pino({ level: 'silent' })),
  });
  const server = await prepared.start();
  return { url: server.url, port: server.port, close: () => server.close() };
}

/** startRegistry's defaults on the tree; returns whether the configuration sets a log level. */
function embeddedDefaults(tree: Record<string, unknown>): boolean {
  const storage = isRecord(tree.storage) ? tree.storage : {};
  if (!Object.keys(storage).some((k) => !STORAGE_SETTINGS.has(k))) tree.storage = { ...storage, inmemory: null };
  const http = isRecord(tree.http) ? tree.http : {};
  if (http.addr === undefined || http.addr === null || http.addr === '') tree.http = { ...http, addr: '127.0.0.1:0' };
  const log = isRecord(tree.log) ? tree.log : {};
  return (log.level !== undefined && log.level !== null) || (tree.loglevel !== undefined && tree.loglevel !== null);
}
