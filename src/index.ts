/**
 * `import … from 'berth'`: the registry as a library (docs/library.md) and the seams to extend it
 * (docs/extending.md). Everything here is public and documented; anything else under dist/ is not.
 */

// The registry inside a process, and its configuration.
export { startRegistry, type StartRegistryOptions, type RunningRegistry } from './launch.js';
export { loadConfig, ConfigError, type ConfigInput, type LoadedConfig, type ParseOptions } from './config/load.js';
export type { Config, LogConfig, StorageConfig, HttpConfig, ValidationConfig, NotificationsConfig, NotificationEndpointConfig, HealthConfig, AuthConfig, MiddlewareConfig } from './config/types.js';
export type { Logger } from './log.js';
// What `berth serve` does with an exception nothing caught: contained in its request, else exit.
export { guardProcess } from './api/guard.js';

// The wire error codes, shared with the client (src/oci/errors.ts).
export { ErrorCodes, RegistryError, isRegistryError, type ErrorCode } from './oci/errors.js';

// Storage drivers: the interface, its errors, registration.
export type {
  StorageDriver,
  FileWriter,
  FileInfo,
  RandomAccessFile,
  PendingWrite,
  RedirectOptions,
  WalkFn,
  WalkResult,
  WalkOptions,
  WriterOptions,
  MoveOptions,
  DeleteOptions,
  DriverFactory,
} from './storage/driver/types.js';
export { PATH_PATTERN } from './storage/driver/types.js';
export { StorageDriverError, PathNotFoundError, InvalidPathError, InvalidOffsetError, UnsupportedMethodError, isPathNotFound } from './storage/driver/errors.js';
export { registerDriver, registeredDrivers, createDriver } from './storage/driver/factory.js';
export { registerStorageMiddleware, registeredStorageMiddleware, type StorageMiddlewareFactory, type StorageMiddlewareContext } from './storage/middleware/index.js';

// Access controllers.
export type { AccessController, Access, Grant } from './auth/types.js';
export { registerAccessController, registeredAccessControllers, type AccessControllerFactory, type AccessControllerContext } from './auth/controllers.js';

// Notification sinks and the events they get (Distribution's envelope).
export { registerNotificationSink, registeredNotificationSinks, type NotificationSink, type NotificationSinkFactory, type NotificationSinkContext } from './notifications/registry.js';
export type { Event as NotificationEvent, EventAction, EventTarget, EventDescriptor, RequestRecord } from './notifications/event.js';
export { EVENTS_MEDIA_TYPE } from './notifications/event.js';

// Plugins: packages that register any of the above (docs/extending.md).
export type { BerthPlugin, PluginHost, PluginErrors } from './plugins/host.js';
export { registerPlugin } from './plugins/load.js';
