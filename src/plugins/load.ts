import { isBuiltin } from 'node:module';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { registerAccessController, registeredAccessControllers } from '../auth/controllers.js';
import { STORAGE_SETTINGS } from '../config/build.js';
import { ConfigError } from '../config/errors.js';
import { isRecord, plain } from '../config/yaml.js';
import { registerNotificationSink, registeredNotificationSinks } from '../notifications/registry.js';
import { createDriver, registerDriver, registeredDrivers } from '../storage/driver/factory.js';
import { registerStorageMiddleware } from '../storage/middleware/index.js';
import { berthVersion } from '../version.js';
import { pluginHost, type BerthPlugin } from './host.js';

/**
 * Plugins: npm packages (or local module files) that register storage drivers, storage
 * middleware, access controllers and notification sinks (docs/extending.md). They are loaded
 * once per process, before the configuration that names them is checked:
 * - every entry of `berth.plugins`, in order;
 * - then a storage driver, access controller or sink name that nothing registered is loaded as
 *   the package of that name, which must register it under that name.
 * A plugin that cannot be loaded stops start-up with a ConfigError naming it.
 */

type Kind = 'storage driver' | 'access controller' | 'notification sink';

/** A plugin the configuration asks for; `provides` when it is named by what it registers. */
export interface WantedPlugin {
  spec: string;
  provides?: { kind: Kind; name: string; key: string };
}

const registered: Record<Kind, () => string[]> = {
  'storage driver': registeredDrivers,
  'access controller': registeredAccessControllers,
  'notification sink': registeredNotificationSinks,
};

/** The plugins a configuration tree (REGISTRY_* applied) names, in load order. */
export function pluginsNamedIn(tree: Record<string, unknown>): WantedPlugin[] {
  const wanted: WantedPlugin[] = [];
  const berth = isRecord(tree.berth) ? tree.berth : {};
  const list = plain(berth.plugins);
  if (list !== undefined && list !== null) {
    const items = Array.isArray(list) ? list : [list];
    items.forEach((item, i) => {
      if (typeof item !== 'string' || item === '') throw new ConfigError(`berth.plugins[${i}]: expected a package name or a path to a module`);
      wanted.push({ spec: item });
    });
  }
  const implicit = (kind: Kind, name: string, key: string) => wanted.push({ spec: name, provides: { kind, name, key } });
  if (isRecord(tree.storage)) {
    for (const name of Object.keys(tree.storage)) if (!STORAGE_SETTINGS.has(name)) implicit('storage driver', name, 'storage');
  }
  if (isRecord(tree.auth)) for (const name of Object.keys(tree.auth)) implicit('access controller', name, 'auth');
  const notifications = isRecord(tree.notifications) ? tree.notifications : {};
  const endpoints = plain(notifications.endpoints);
  if (Array.isArray(endpoints)) {
    endpoints.forEach((e: unknown, i) => {
      const sink = isRecord(e) ? e.sink : undefined;
      if (typeof sink === 'string' && sink !== '') implicit('notification sink', sink, `notifications.endpoints[${i}].sink`);
    });
  }
  return wanted;
}

/** Loads the wanted plugins in order (each once per process). */
export async function loadPlugins(wanted: readonly WantedPlugin[], cwd: string): Promise<void> {
  for (const w of wanted) {
    const provides = w.provides;
    if (provides) {
      // Named by what it registers: only when nothing (built in, or loaded so far) has that name.
      if (registered[provides.kind]().includes(provides.name)) continue;
      if (!isPackageName(provides.name)) continue; // reported as unknown when the configuration is checked
    }
    await loadOnce(w.spec, cwd, provides);
    if (provides && !registered[provides.kind]().includes(provides.name)) {
      throw new ConfigError(`${provides.key}: package "${w.spec}" was loaded but registers no ${provides.kind} named "${provides.name}"`);
    }
  }
}

const loaded = new Map<string, Promise<void>>();

function loadOnce(spec: string, cwd: string, provides: WantedPlugin['provides']): Promise<void> {
  const file = isPath(spec) ? path.resolve(cwd, spec) : undefined;
  const id = file ?? spec;
  let done = loaded.get(id);
  if (!done) {
    done = load(spec, file, provides);
    loaded.set(id, done);
    // A failed load may be retried (a later start, after the package is installed).
    done.catch(() => loaded.delete(id));
  }
  return done;
}

async function load(spec: string, file: string | undefined, provides: WantedPlugin['provides']): Promise<void> {
  const name = `plugin "${spec}"`;
  let module: Record<string, unknown>;
  try {
    module = (await import(file ? pathToFileURL(file).href : spec)) as Record<string, unknown>;
  } catch (err) {
    if (isNotFound(err, file ?? packageOf(spec))) {
      if (provides) {
        throw new ConfigError(`${provides.key}: unknown ${provides.kind === 'storage driver' ? 'driver' : provides.kind} "${provides.name}" (known: ${registered[provides.kind]().join(', ')}; no package "${spec}" is installed beside berth)`);
      }
      throw new ConfigError(`${name}: not found (${file ? `no file ${file}` : `install it beside berth: npm install ${spec}`})`);
    }
    throw new ConfigError(`${name}: cannot be loaded: ${firstLine(err)}`);
  }
  const plugin = pluginOf(module);
  if (!plugin) throw new ConfigError(`${name}: exports no register function (export default { register(berth) { … } }: docs/extending.md)`);
  try {
    await registerPlugin(plugin, spec);
  } catch (err) {
    throw new ConfigError(`${name}: register failed: ${firstLine(err)}`);
  }
}

/**
 * Runs a plugin's register function in this process, as loading it from the configuration would:
 * for a program that embeds Berth with a plugin it imported itself, and for a plugin's own tests.
 */
export async function registerPlugin(plugin: BerthPlugin, name = 'plugin'): Promise<void> {
  await plugin.register(pluginHost(name, berthVersion(), { createDriver, registerDriver, registerStorageMiddleware, registerAccessController, registerNotificationSink }));
}

/** `export default { register }`, `export default function register`, or `export function register`. */
function pluginOf(module: Record<string, unknown>): BerthPlugin | undefined {
  const main = module.default as BerthPlugin | BerthPlugin['register'] | undefined;
  if (typeof main === 'function') return { register: main };
  if (main && typeof main === 'object' && typeof main.register === 'function') return main;
  if (typeof module.register === 'function') return { register: module.register as BerthPlugin['register'] };
  return undefined;
}

function isPath(spec: string): boolean {
  return spec.startsWith('./') || spec.startsWith('../') || spec.startsWith('/') || spec === '.' || spec === '..';
}

/** What npm accepts as a package name (and is not one of Node's own modules). */
function isPackageName(name: string): boolean {
  return /^(@[a-z0-9][a-z0-9._~-]*\/)?[a-z0-9][a-z0-9._~-]*$/.test(name) && !isBuiltin(name);
}

function packageOf(spec: string): string {
  const parts = spec.split('/');
  return spec.startsWith('@') ? parts.slice(0, 2).join('/') : parts[0] ?? spec;
}

/** The import failed because `what` (the plugin itself, not one of its own imports) is missing. */
function isNotFound(err: unknown, what: string): boolean {
  const e = err as NodeJS.ErrnoException;
  if (e?.code !== 'ERR_MODULE_NOT_FOUND') return false;
  return e.message.includes(`'${what}'`) || e.message.includes(`'${pathToFileURL(what).pathname}'`);
}

function firstLine(err: unknown): string {
  const text = err instanceof Error ? `${err.name === 'Error' ? '' : `${err.name}: `}${err.message}` : String(err);
  return text.split('\n')[0] ?? text;
}
