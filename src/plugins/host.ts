import type { AccessControllerFactory } from '../auth/controllers.js';
import { ConfigError } from '../config/errors.js';
import type { NotificationSinkFactory } from '../notifications/registry.js';
import { RegistryError } from '../oci/errors.js';
import { InvalidOffsetError, InvalidPathError, PathNotFoundError, StorageDriverError, UnsupportedMethodError } from '../storage/driver/errors.js';
import type { DriverFactory, StorageDriver } from '../storage/driver/types.js';
import type { StorageMiddlewareFactory } from '../storage/middleware/index.js';

/**
 * What a plugin's register function is given. Registering through it (rather than through an
 * `import 'berth'` of the plugin's own) reaches the Berth that is running even when npm installed
 * a second copy for the plugin; the same goes for the error classes, which Berth recognises with
 * instanceof: throw these.
 */
export interface PluginHost {
  /** The package (or file) being loaded, as named in the configuration. */
  readonly plugin: string;
  /** The running Berth's version. */
  readonly version: string;
  /**
   * A driver registered under `name` (built in, or by a plugin loaded before), wrapped by the base
   * wrapper: for a driver built on another (a prefix, encryption, a cache in front).
   */
  createDriver(name: string, parameters?: Record<string, unknown>): Promise<StorageDriver>;
  /** A storage driver for `storage.<name>` (docs/extending.md; test it with berth/testing). */
  registerStorageDriver(name: string, factory: DriverFactory): void;
  /** A storage middleware for `middleware.storage[].name`. */
  registerStorageMiddleware(name: string, factory: StorageMiddlewareFactory): void;
  /** An access controller for `auth.<name>`. */
  registerAccessController(name: string, factory: AccessControllerFactory): void;
  /** A notification sink for `notifications.endpoints[].sink`. */
  registerNotificationSink(name: string, factory: NotificationSinkFactory): void;
  readonly errors: PluginErrors;
}

export interface PluginErrors {
  /** An OCI error answer (code, status, message): what an access controller throws. */
  readonly RegistryError: typeof RegistryError;
  /** A configuration problem: a one-line message naming the key. */
  readonly ConfigError: typeof ConfigError;
  readonly StorageDriverError: typeof StorageDriverError;
  readonly PathNotFoundError: typeof PathNotFoundError;
  readonly InvalidPathError: typeof InvalidPathError;
  readonly InvalidOffsetError: typeof InvalidOffsetError;
  readonly UnsupportedMethodError: typeof UnsupportedMethodError;
}

/** A plugin module's default export (or the module itself, with a named `register`). */
export interface BerthPlugin {
  register(host: PluginHost): void | Promise<void>;
}

interface Registrars {
  createDriver(name: string, parameters?: Record<string, unknown>): Promise<StorageDriver>;
  registerDriver(name: string, factory: DriverFactory): void;
  registerStorageMiddleware(name: string, factory: StorageMiddlewareFactory): void;
  registerAccessController(name: string, factory: AccessControllerFactory): void;
  registerNotificationSink(name: string, factory: NotificationSinkFactory): void;
}

const errors: PluginErrors = { RegistryError, ConfigError, StorageDriverError, PathNotFoundError, InvalidPathError, InvalidOffsetError, UnsupportedMethodError };

export function pluginHost(plugin: string, version: string, r: Registrars): PluginHost {
  return {
    plugin,
    version,
    createDriver: (name, parameters) => r.createDriver(name, parameters),
    registerStorageDriver: (name, factory) => r.registerDriver(name, factory),
    registerStorageMiddleware: (name, factory) => r.registerStorageMiddleware(name, factory),
    registerAccessController: (name, factory) => r.registerAccessController(name, factory),
    registerNotificationSink: (name, factory) => r.registerNotificationSink(name, factory),
    errors,
  };
}
