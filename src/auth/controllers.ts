import type { Logger } from 'pino';
import { NamedFactories } from '../named.js';
import type { StorageDriver } from '../storage/driver/types.js';
import type { AccessController } from './types.js';

/** What a third-party access controller is built with, beside its own parameters. */
export interface AccessControllerContext {
  /** The registry's logger, with `component: auth`. */
  readonly logger: Logger;
  /** The storage driver the registry uses (for controllers that keep state beside the layout). */
  readonly driver: StorageDriver;
}

/**
 * Builds an access controller from its parameters: the map under `auth.<name>` as written, keys
 * as given. Throw an Error (a ConfigError for a bad parameter) to stop start-up with its message.
 */
export type AccessControllerFactory = (parameters: Record<string, unknown>, context: AccessControllerContext) => AccessController | Promise<AccessController>;

/** Access controllers beside the built-in silly, htpasswd and token (src/auth/index.ts). */
const controllers = new NamedFactories<AccessControllerFactory>('access controller');

export const BUILT_IN_CONTROLLERS = ['silly', 'htpasswd', 'token'] as const;

/** Registers an access controller for `auth.<name>`; the built-in names are taken. */
export function registerAccessController(name: string, factory: AccessControllerFactory): void {
  if ((BUILT_IN_CONTROLLERS as readonly string[]).includes(name)) throw new Error(`access controller "${name}" is already registered`);
  controllers.register(name, factory);
}

export function accessControllerFactory(name: string): AccessControllerFactory | undefined {
  return controllers.get(name);
}

/** Every access controller name `auth` accepts, sorted. */
export function registeredAccessControllers(): string[] {
  return [...BUILT_IN_CONTROLLERS, ...controllers.names()].sort();
}
