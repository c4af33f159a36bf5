import { ConfigError } from './errors.js';
import { isRecord, parseYaml, YamlSyntaxError } from './yaml.js';

/**
 * REGISTRY_* environment overrides, applied the way Distribution's configuration parser does:
 *
 * - `REGISTRY_` + the upper-cased key path joined by `_` names one setting:
 *   REGISTRY_HTTP_ADDR, REGISTRY_STORAGE_FILESYSTEM_ROOTDIRECTORY, REGISTRY_LOG_FIELDS_SERVICE.
 *   Names are case-sensitive: only the upper-case spelling matches.
 * - The value is parsed as YAML and stored at that path; the schema then converts it to the
 *   target's type exactly as it would a value from the file ("true" → boolean for a boolean
 *   setting, "0123" stays text for a string setting, "[a, b]" is a list).
 * - Variables are applied in lexical order of their names, so REGISTRY_STORAGE is applied before
 *   REGISTRY_STORAGE_S3_REGION.
 * - Inside a map (storage driver parameters, log.fields, http.headers, free-form sections) new
 *   keys are created lower-cased; inside a list the next path element is an index (at most one
 *   past the end, which appends).
 * - A variable naming no known setting (e.g. REGISTRY_PORT, which Kubernetes defines for a
 *   service called "registry") is ignored with a warning: Distribution logs "Ignoring
 *   unrecognized environment variable" and starts, so erroring would break deployments that work
 *   with it today. A bad list index is an error, as in Distribution.
 * - An override for a driver other than the configured one (REGISTRY_STORAGE_S3_REGION while
 *   the file uses filesystem) adds a second driver, which fails validation with "multiple storage
 *   drivers", as Distribution does. REGISTRY_STORAGE=<driver> selects the driver: it drops the
 *   file's driver and its parameters (parameters then come from REGISTRY_STORAGE_<DRIVER>_*).
 *   Deliberate difference: Distribution also drops storage.delete/redirect/cache/maintenance/tag
 *   from the file in that case (it replaces the whole storage map); Berth keeps them, because
 *   silently turning off e.g. delete.enabled is never what the operator meant.
 * - Setting a map-valued key whose name differs only in case from an existing key (an HTTP header
 *   written as X-Frame-Options in the file, overridden by REGISTRY_HTTP_HEADERS_X-FRAME-OPTIONS)
 *   replaces that key rather than adding a second spelling.
 */

export type Shape = 'leaf' | 'any' | { fields: Record<string, Shape> } | { entries: Shape; named?: 'storage' | 'auth' } | { items: Shape };

const leaves = (...names: string[]): Record<string, Shape> => Object.fromEntries(names.map((n) => [n, 'leaf' as Shape]));

/** The structured part of Distribution's configuration: which keys are settings, maps or lists. */
export const CONFIG_SHAPE: Shape = {
  fields: {
    version: 'leaf',
    loglevel: 'leaf',
    log: {
      fields: {
        ...leaves('level', 'formatter', 'reportcaller'),
        accesslog: { fields: leaves('disabled') },
        fields: { entries: 'any' },
        hooks: { items: 'any' },
      },
    },
    storage: { entries: 'any', named: 'storage' },
    auth: { entries: 'any', named: 'auth' },
    http: {
      fields: {
        ...leaves('addr', 'net', 'host', 'prefix', 'secret', 'relativeurls', 'draintimeout'),
        tls: {
          fields: {
            ...leaves('certificate', 'key', 'minimumtls', 'clientauth'),
            clientcas: { items: 'leaf' },
            ciphersuites: { items: 'leaf' },
            letsencrypt: { fields: { ...leaves('cachefile', 'email', 'directoryurl'), hosts: { items: 'leaf' } } },
          },
        },
        headers: { entries: { items: 'leaf' } },
        debug: { fields: { addr: 'leaf', prometheus: { fields: leaves('enabled', 'path') } } },
        http2: { fields: leaves('disabled') },
        h2c: { fields: leaves('enabled') },
      },
    },
    catalog: { fields: leaves('maxentries') },
    validation: {
      fields: {
        ...leaves('enabled', 'disabled'),
        manifests: {
          fields: {
            urls: { fields: { allow: { items: 'leaf' }, deny: { items: 'leaf' } } },
            indexes: 'any',
          },
        },
      },
    },
    ...Object.fromEntries(
      ['notifications', 'redis', 'health', 'proxy', 'middleware', 'compatibility', 'reporting', 'policy', 'berth'].map(
        (n) => [n, 'any' as Shape],
      ),
    ),
  },
};

const STORAGE_SETTINGS = new Set(['delete', 'redirect', 'cache', 'maintenance', 'tag']);

interface Context {
  name: string;
  payload: unknown;
  warnings: string[];
  /** Dotted key path (lower-case) → the variable that set it, for error messages. */
  origins: Map<string, string>;
}

/** Applies every REGISTRY_* variable to the parsed YAML tree (mutating it) and returns it. */
export function applyEnvOverrides(
  tree: Record<string, unknown>,
  env: NodeJS.ProcessEnv,
  warnings: string[],
  origins: Map<string, string>,
): Record<string, unknown> {
  const names = Object.keys(env)
    // REGISTRY_CONFIGURATION_PATH names the file (see cli/serve.ts), not a setting.
    .filter((name) => name.startsWith('REGISTRY_') && name !== 'REGISTRY_CONFIGURATION_PATH')
    .sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  for (const name of names) {
    const path = name.split('_').slice(1);
    let payload: unknown;
    try {
      payload = parseYaml(env[name] ?? '');
    } catch (error) {
      if (!(error instanceof YamlSyntaxError)) throw error;
      throw new ConfigError(`environment variable ${name}: invalid YAML value: ${error.message}`);
    }
    const ctx: Context = { name, payload, warnings, origins };
    apply(tree, CONFIG_SHAPE, path, [], ctx);
  }
  return tree;
}

function ignore(ctx: Context): void {
  ctx.warnings.push(`environment variable ${ctx.name}: names no configuration setting and is ignored`);
}

function setHere(trail: string[], ctx: Context): unknown {
  ctx.origins.set(trail.join('.'), ctx.name);
  return ctx.payload;
}

/** Returns the new value for the slot holding `value`, after applying the rest of the path. */
function apply(value: unknown, shape: Shape, path: string[], trail: string[], ctx: Context): unknown {
  if (path.length === 0) {
    if (typeof shape === 'object' && 'named' in shape && shape.named && typeof ctx.payload === 'string') {
      return setNamed(value, shape.named, trail, ctx);
    }
    return setHere(trail, ctx);
  }
  const [head = '', ...rest] = path;
  if (shape === 'leaf') {
    ignore(ctx);
    return value;
  }
  if (shape === 'any') {
    if (Array.isArray(value)) return applyItems(value, 'any', head, rest, trail, ctx);
    if (value === undefined || value === null || isRecord(value)) return applyEntries(value, 'any', head, rest, trail, ctx);
    ignore(ctx);
    return value;
  }
  if ('fields' in shape) {
    const field = Object.keys(shape.fields).find((key) => key.toUpperCase() === head);
    if (field === undefined) {
      ignore(ctx);
      return value;
    }
    const obj = isRecord(value) ? value : {};
    obj[field] = apply(obj[field], shape.fields[field] ?? 'leaf', rest, [...trail, field], ctx);
    return obj;
  }
  if ('entries' in shape) return applyEntries(value, shape.entries, head, rest, trail, ctx);
  return applyItems(Array.isArray(value) ? value : [], shape.items, head, rest, trail, ctx);
}

function applyEntries(value: unknown, entry: Shape, head: string, rest: string[], trail: string[], ctx: Context): unknown {
  const obj = isRecord(value) ? value : {};
  const existing = Object.keys(obj).find((key) => key.toUpperCase() === head);
  if (existing !== undefined && rest.length > 0 && obj[existing] !== null && obj[existing] !== undefined) {
    obj[existing] = apply(obj[existing], entry, rest, [...trail, existing.toLowerCase()], ctx);
    return obj;
  }
  if (existing !== undefined) delete obj[existing];
  const key = head.toLowerCase();
  obj[key] = apply(undefined, entry, rest, [...trail, key], ctx);
  return obj;
}

function applyItems(list: unknown[], item: Shape, head: string, rest: string[], trail: string[], ctx: Context): unknown {
  if (!/^\d+$/.test(head)) throw new ConfigError(`environment variable ${ctx.name}: non-numeric list index "${head}"`);
  const index = Number(head);
  if (index > list.length) {
    throw new ConfigError(`environment variable ${ctx.name}: list index ${index} is past the end (the list has ${list.length} items)`);
  }
  list[index] = apply(list[index], item, rest, [...trail, String(index)], ctx);
  return list;
}

/** REGISTRY_STORAGE=<driver> / REGISTRY_AUTH=<type>: select that one, without parameters. */
function setNamed(value: unknown, named: 'storage' | 'auth', trail: string[], ctx: Context): unknown {
  ctx.origins.set(trail.join('.'), ctx.name);
  const chosen = String(ctx.payload);
  const result: Record<string, unknown> = {};
  if (named === 'storage' && isRecord(value)) {
    for (const [key, item] of Object.entries(value)) if (STORAGE_SETTINGS.has(key)) result[key] = item;
  }
  result[chosen] = {};
  return result;
}
