import { wrapDriver, type BaseOptions } from './base.js';
import { createFilesystemDriver } from './filesystem.js';
import { createInMemoryDriver } from './inmemory.js';
import { NamedFactories } from '../../named.js';
import type { DriverFactory, StorageDriver } from './types.js';

/**
 * Drivers by name (Distribution's factory.Register / factory.Create). The built-in drivers are
 * registered here when this module loads; others by a plugin (docs/extending.md) or by a program
 * embedding Berth, before the configuration naming them is loaded.
 */
const factories = new NamedFactories<DriverFactory>('storage driver');

/** Registers a driver factory under a name. Registering the same name twice is an error. */
export function registerDriver(name: string, factory: DriverFactory): void {
  factories.register(name, factory);
}

/** Names of every registered driver, sorted. */
export function registeredDrivers(): string[] {
  return factories.names();
}

/**
 * Builds the driver registered under `name` from its parameters (the map under
 * `storage.<name>`) and returns it wrapped by the base wrapper.
 */
export async function createDriver(
  name: string,
  parameters: Record<string, unknown> = {},
  options: BaseOptions = {},
): Promise<StorageDriver> {
  const factory = factories.get(name);
  if (!factory) {
    throw new Error(`storage driver "${name}" is not known; known drivers: ${registeredDrivers().join(', ')}`);
  }
  return wrapDriver(await factory(parameters ?? {}), options);
}

registerDriver('filesystem', createFilesystemDriver);
registerDriver('inmemory', createInMemoryDriver);
// The cloud drivers bring large SDKs (tens of MiB, a few hundred ms to load): loaded only when chosen.
registerDriver('s3', async (parameters) => (await import('./s3/driver.js')).createS3Driver(parameters));
registerDriver('azure', async (parameters) => (await import('./azure/driver.js')).createAzureDriver(parameters));
