import type { Logger } from 'pino';
import { ConfigError } from '../../config/errors.js';
import { NamedFactories } from '../../named.js';
import { wrapDriver } from '../driver/base.js';
import type { StorageDriver } from '../driver/types.js';

/**
 * Storage middleware, as Distribution's `middleware.storage`: each entry wraps the storage
 * driver, in the order listed. The built-in ones (redirect, cloudfront) only change where blob
 * downloads are redirected to (the driver's redirectURL); a plugin's may wrap any operation.
 */

export interface StorageMiddlewareContext {
  readonly logger: Logger;
  /** The entry's key path for messages, e.g. "middleware.storage[0]". */
  readonly key: string;
}

/**
 * Wraps a driver. `options` is the entry's `options` map (keys lower-cased); the result is
 * wrapped by the base wrapper like any driver (path checks, error normalisation). Throw a
 * ConfigError naming `${context.key}.options.<key>` for a bad option.
 */
export type StorageMiddlewareFactory = (driver: StorageDriver, options: Record<string, unknown>, context: StorageMiddlewareContext) => StorageDriver | Promise<StorageDriver>;

/** One entry of middleware.storage, checked. */
export interface StorageMiddlewareEntry {
  name: string;
  options: Record<string, unknown>;
}

const middleware = new NamedFactories<StorageMiddlewareFactory>('storage middleware');

export function registerStorageMiddleware(name: string, factory: StorageMiddlewareFactory): void {
  middleware.register(name, factory);
}

export function registeredStorageMiddleware(): string[] {
  return middleware.names();
}

/** The driver wrapped by every configured storage middleware, first listed innermost. */
export async function applyStorageMiddleware(driver: StorageDriver, entries: readonly StorageMiddlewareEntry[], logger: Logger): Promise<StorageDriver> {
  let wrapped = driver;
  for (const [i, entry] of entries.entries()) {
    const factory = middleware.get(entry.name);
    if (!factory) continue; // reported as a warning when the configuration was checked
    const key = `middleware.storage[${i}]`;
    try {
      wrapped = wrapDriver(await factory(wrapped, entry.options, { logger: logger.child({ middleware: entry.name }), key }));
    } catch (err) {
      if (err instanceof ConfigError) throw err;
      throw new ConfigError(`${key} (${entry.name}): ${err instanceof Error ? err.message : String(err)}`);
    }
  }
  return wrapped;
}

/** `driver` with another redirectURL; every other operation (and optional capability) is the driver's own. */
export function withRedirectURL(driver: StorageDriver, redirectURL: StorageDriver['redirectURL']): StorageDriver {
  return Object.create(driver, { redirectURL: { value: redirectURL } }) as StorageDriver;
}

registerStorageMiddleware('redirect', async (driver, options, context) => (await import('./redirect.js')).redirectMiddleware(driver, options, context));
// The signer is loaded only when cloudfront is configured.
registerStorageMiddleware('cloudfront', async (driver, options, context) => (await import('./cloudfront.js')).cloudFrontMiddleware(driver, options, context));
