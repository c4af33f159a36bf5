/** The storage driver layer: the interface, its errors, the factory and the built-in drivers. */
export * from './types.js';
export * from './errors.js';
export { createDriver, registerDriver, registeredDrivers } from './factory.js';
export { wrapDriver, isValidPath, type BaseOptions, type OperationEvent } from './base.js';
