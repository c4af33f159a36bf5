import { readFileSync } from 'node:fs';
import { registeredDrivers } from '../storage/driver/factory.js';
import { buildConfig, checkVersion } from './build.js';
import { applyEnvOverrides } from './env.js';
import { ConfigError } from './errors.js';
import { configSchema, keyPath } from './schema.js';
import type { Config } from './types.js';
import { isRecord, parseYaml, YamlSyntaxError } from './yaml.js';

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
}

export interface LoadedConfig {
  config: Config;
  /** Non-fatal findings (unknown keys, deprecated or unimplemented settings), one line each. */
  warnings: string[];
}

/**
 * Reads Distribution-format YAML (version 0.1), applies REGISTRY_* overrides from `env`,
 * validates, and fills in defaults. Throws ConfigError with a one-line message on any problem.
 */
export function parseConfig(yamlText: string, env: NodeJS.ProcessEnv = process.env, options: ParseOptions = {}): LoadedConfig {
  const warnings: string[] = [];
  let tree: unknown;
  try {
    tree = parseYaml(yamlText);
  } catch (error) {
    if (error instanceof YamlSyntaxError) throw new ConfigError(`${options.source ?? 'configuration'}: invalid YAML: ${error.message}`);
    throw error;
  }
  if (tree === null || tree === undefined) tree = {};
  if (!isRecord(tree)) throw new ConfigError(`${options.source ?? 'configuration'}: expected a YAML map at the top level`);
  // Distribution checks the version before applying the environment (which cannot set it).
  checkVersion(tree.version);

  // `storage: inmemory` / `auth: silly` are short for a driver (or controller) without parameters.
  for (const key of ['storage', 'auth']) if (typeof tree[key] === 'string') tree[key] = { [tree[key]]: null };

  const origins = new Map<string, string>();
  applyEnvOverrides(tree, env, warnings, origins);

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

/** Reads and parses a configuration file; a missing or unreadable file is a ConfigError. */
export function loadConfigFile(path: string, env: NodeJS.ProcessEnv = process.env, options: ParseOptions = {}): LoadedConfig {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') throw new ConfigError(`config file ${path}: not found`);
    if (code === 'EISDIR') throw new ConfigError(`config file ${path}: is a directory`);
    if (code === 'EACCES') throw new ConfigError(`config file ${path}: permission denied`);
    throw new ConfigError(`config file ${path}: cannot be read (${code ?? String(error)})`);
  }
  return parseConfig(text, env, { ...options, source: options.source ?? `config file ${path}` });
}
