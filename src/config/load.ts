import { readFileSync } from 'node:fs';
import { registeredDrivers } from '../storage/driver/factory.js';
import { buildConfig, checkVersion } from './build.js';
import { applyEnvOverrides } from './env.js';
import { ConfigError } from './errors.js';
import { configSchema, keyPath } from './schema.js';
import type { Config } from './types.js';
import { isRecord, parseYaml, TypedScalar, YamlSyntaxError } from './yaml.js';
import { loadPlugins, pluginsNamedIn } from '../plugins/load.js';

export { ConfigError } from './errors.js';

/**
 * The configuration used when `berth serve` is given no file: filesystem storage under ./data
 * (resolved against the working directory), listening on 127.0.0.1:5000, deletes disabled,
 * info-level text logs. REGISTRY_* variables still apply on top of it.
 */
export const defaultConfigText = `version: 0.1
log:
  level: info
  formatter: text
storage:
  filesystem:
    rootdirectory: ./data
  delete:
    enabled: false
http:
  addr: 127.0.0.1:5000
  headers:
    X-Content-Type-Options: [nosniff]
`;

export interface ParseOptions {
  /** Storage driver names accepted under `storage`; defaults to the factory's registered drivers. */
  drivers?: readonly string[];
  /** Directory for resolving relative paths; defaults to process.cwd(). */
  cwd?: string;
  /** Names the source in YAML syntax errors, e.g. "config file /etc/berth.yml". */
  source?: string;
  /**
   * Called with the tree once REGISTRY_* overrides are applied, before it is checked: where a
   * caller fills in defaults of its own (startRegistry's inmemory storage and free port).
   */
  fillDefaults?: (tree: Record<string, unknown>) => void;
  /** A configuration without `version` is taken as 0.1 (startRegistry); serve requires it, as Distribution. */
  defaultVersion?: boolean;
}

export interface LoadedConfig {
  config: Config;
  /** Non-fatal findings (unknown keys, deprecated or unimplemented settings), one line each. */
  warnings: string[];
}

/**
 * A configuration in Distribution's format: YAML text, or the same shape as plain data
 * (`{ version: '0.1', storage: { filesystem: { rootdirectory: '/srv' } } }`), as JSON or YAML
 * would give it.
 */
export type ConfigInput = string | Record<string, unknown>;

/** The configuration tree before it is checked: REGISTRY_* applied, with where each override came from. */
export interface ConfigTree {
  tree: Record<string, unknown>;
  warnings: string[];
  /** Key path → the environment variable that set it (for error messages). */
  origins: Map<string, string>;
}

/**
 * Reads Distribution-format YAML (version 0.1), applies REGISTRY_* overrides from `env`,
 * validates, and fills in defaults. Throws ConfigError with a one-line message on any problem.
 * Storage drivers, access controllers and sinks must already be registered: loadConfig also
 * loads the plugins the configuration names.
 */
export function parseConfig(input: ConfigInput, env: NodeJS.ProcessEnv = process.env, options: ParseOptions = {}): LoadedConfig {
  return buildLoaded(readConfigTree(input, env, options), options);
}

/**
 * The configuration as the library takes it: `input` as YAML text or plain data, REGISTRY_*
 * variables from `env` only when it is given (pass process.env to honour the process's), and the
 * plugins it names (berth.plugins, and driver, controller or sink names no plugin has registered
 * yet: docs/extending.md) loaded before it is checked. Rejects with a ConfigError whose message
 * is the one line `berth serve` prints.
 */
export async function loadConfig(input: ConfigInput, env: NodeJS.ProcessEnv = {}, options: ParseOptions = {}): Promise<LoadedConfig> {
  const read = readConfigTree(input, env, options);
  await loadPlugins(pluginsNamedIn(read.tree), options.cwd ?? process.cwd());
  return buildLoaded(read, options);
}

/** YAML or plain data → the tree, version checked, shorthands expanded, REGISTRY_* applied. */
export function readConfigTree(input: ConfigInput, env: NodeJS.ProcessEnv, options: ParseOptions = {}): ConfigTree {
  const warnings: string[] = [];
  const source = options.source ?? 'configuration';
  let tree: unknown;
  if (typeof input === 'string') {
    try {
      tree = parseYaml(input);
    } catch (error) {
      if (error instanceof YamlSyntaxError) throw new ConfigError(`${source}: invalid YAML: ${error.message}`);
      throw error;
    }
  } else tree = fromPlainData(input, '');
  if (tree === null || tree === undefined) tree = {};
  if (!isRecord(tree)) throw new ConfigError(`${source}: expected a ${typeof input === 'string' ? 'YAML map' : 'map'} at the top level`);
  // Distribution checks the version before applying the environment (which cannot set it).
  if (options.defaultVersion && (tree.version === undefined || tree.version === null)) tree.version = '0.1';
  checkVersion(tree.version);

  // `storage: inmemory` / `auth: silly` are short for a driver (or controller) without parameters.
  for (const key of ['storage', 'auth']) if (typeof tree[key] === 'string') tree[key] = { [tree[key]]: null };

  const origins = new Map<string, string>();
  applyEnvOverrides(tree, env, warnings, origins);
  options.fillDefaults?.(tree);
  return { tree, warnings, origins };
}

function buildLoaded({ tree, warnings, origins }: ConfigTree, options: ParseOptions): LoadedConfig {
  const result = configSchema((message) => warnings.push(message)).safeParse(tree);
  if (!result.success) {
    const issue = result.error.issues[0];
    const where = keyPath(issue?.path ?? []);
    throw new ConfigError(`${where || 'configuration'}: ${issue?.message ?? 'invalid'}${originOf(where, origins)}`);
  }
  const config = buildConfig(
    result.data,
    { drivers: options.drivers ?? registeredDrivers(), cwd: options.cwd ?? process.cwd() },
    (message) => warnings.push(message),
  );
  return { config, warnings };
}

/**
 * Plain data as the YAML reader would give it: numbers and booleans become TypedScalars (so a
 * string setting given 5000 reads "5000", as from a file); anything JSON cannot hold is refused.
 */
function fromPlainData(value: unknown, where: string): unknown {
  if (typeof value === 'number' || typeof value === 'boolean') return new TypedScalar(value, String(value));
  if (value === null || value === undefined || typeof value === 'string') return value;
  if (Array.isArray(value)) return value.map((item, i) => fromPlainData(item, `${where}[${i}]`));
  const proto = typeof value === 'object' ? Object.getPrototypeOf(value) : undefined;
  if (proto === Object.prototype || proto === null) {
    const out: Record<string, unknown> = {};
    for (const [key, item] of Object.entries(value as Record<string, unknown>)) out[key] = fromPlainData(item, where ? `${where}.${key}` : key);
    return out;
  }
  throw new ConfigError(`${where || 'configuration'}: expected plain data (a map, list, string, number or boolean), got ${describeValue(value)}`);
}

function describeValue(value: unknown): string {
  if (typeof value === 'object' && value !== null) return `a ${value.constructor?.name ?? 'object'}`;
  return typeof value;
}

/** " (set by REGISTRY_X)" when an environment variable set `where` or one of its parents. */
function originOf(where: string, origins: Map<string, string>): string {
  let best = '';
  let name = '';
  for (const [key, variable] of origins) {
    const matches = where === key || where.startsWith(`${key}.`) || where.startsWith(`${key}[`);
    if (matches && key.length >= best.length) {
      best = key;
      name = variable;
    }
  }
  return name ? ` (set by ${name})` : '';
}

/** Reads a configuration file; a missing or unreadable file is a ConfigError. */
export function readConfigFile(path: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') throw new ConfigError(`config file ${path}: not found`);
    if (code === 'EISDIR') throw new ConfigError(`config file ${path}: is a directory`);
    if (code === 'EACCES') throw new ConfigError(`config file ${path}: permission denied`);
    throw new ConfigError(`config file ${path}: cannot be read (${code ?? String(error)})`);
  }
}

/** Reads and loads a configuration file (plugins included, as loadConfig). */
export async function loadConfigFile(path: string, env: NodeJS.ProcessEnv = process.env, options: ParseOptions = {}): Promise<LoadedConfig> {
  return loadConfig(readConfigFile(path), env, { ...options, source: options.source ?? `config file ${path}` });
}
