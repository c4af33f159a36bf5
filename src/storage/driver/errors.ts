/** Errors a driver throws; the storage services translate them into registry errors. */
export class StorageDriverError extends Error {
  constructor(
    readonly driver: string,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'StorageDriverError';
  }
}

export class PathNotFoundError extends StorageDriverError {
  constructor(driver: string, readonly path: string) {
    super(driver, `${driver}: path not found: ${path}`);
    this.name = 'PathNotFoundError';
  }
}

export class InvalidPathError extends StorageDriverError {
  constructor(driver: string, readonly path: string) {
    super(driver, `${driver}: invalid path: ${path}`);
    this.name = 'InvalidPathError';
  }
}

export class InvalidOffsetError extends StorageDriverError {
  constructor(driver: string, readonly path: string, readonly offset: number) {
    super(driver, `${driver}: invalid offset ${offset} for path: ${path}`);
    this.name = 'InvalidOffsetError';
  }
}

export class UnsupportedMethodError extends StorageDriverError {
  constructor(driver: string, readonly method: string) {
    super(driver, `${driver}: unsupported method: ${method}`);
    this.name = 'UnsupportedMethodError';
  }
}

/**
 * The storage cannot serve any request until an operator acts (the azure container is gone):
 * answered 503 UNAVAILABLE with this message, which names what is missing.
 */
export class StorageUnavailableError extends StorageDriverError {
  constructor(driver: string, message: string, options?: { cause?: unknown }) {
    super(driver, message, options);
    this.name = 'StorageUnavailableError';
  }
}

export function isPathNotFound(err: unknown): err is PathNotFoundError {
  return err instanceof PathNotFoundError;
}
