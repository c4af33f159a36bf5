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

/**
 * The storage device has no room left (ENOSPC) or the quota is used up (EDQUOT). Answered 503
 * UNAVAILABLE "no space left on the storage device" (docs/operations.md, "Failure modes"): the
 * registry is up and reads still work, writes wait for an operator or a collection to free space.
 */
export class StorageFullError extends StorageDriverError {
  constructor(driver: string, message: string, options?: { cause?: unknown }) {
    super(driver, message, options);
    this.name = 'StorageFullError';
  }
}

/** errno codes of a full device. */
const FULL_CODES = new Set(['ENOSPC', 'EDQUOT']);

/**
 * Codes and names of a store that did not answer: a connection refused, reset or timed out, a
 * name that does not resolve. Node's socket errors carry them as `code`, and so do the Azure SDK's
 * (a RestError keeps the socket's code, or says REQUEST_SEND_ERROR when there was none); the AWS
 * SDK's timeouts come as `name` (TimeoutError), after its own retries.
 */
const UNREACHABLE_CODES = new Set([
  'ECONNREFUSED', 'ECONNRESET', 'ECONNABORTED', 'ETIMEDOUT', 'EPIPE', 'EHOSTUNREACH', 'ENETUNREACH',
  'EHOSTDOWN', 'ENETDOWN', 'ENOTFOUND', 'EAI_AGAIN', 'ESOCKETTIMEDOUT', 'ERR_SOCKET_CONNECTION_TIMEOUT',
  'REQUEST_SEND_ERROR',
]);
const UNREACHABLE_NAMES = new Set(['TimeoutError', 'RequestTimeout']);

/**
 * What a raw error from a driver's backend says about the storage as a whole, when it says
 * something: the device is full, or the store cannot be reached. The base wrapper (base.ts) turns
 * such errors into StorageFullError or StorageUnavailableError for every driver, so the HTTP layer
 * answers them 503 whatever driver raised them; anything else stays a StorageDriverError (500).
 */
export function storageFault(driver: string, err: unknown): StorageDriverError | undefined {
  if (typeof err !== 'object' || err === null) return undefined;
  const { code, name } = err as { code?: unknown; name?: unknown };
  const reason = typeof code === 'string' ? code : typeof name === 'string' ? name : '';
  if (FULL_CODES.has(reason)) return new StorageFullError(driver, `${driver}: no space left on the storage device (${reason})`, { cause: err });
  if (UNREACHABLE_CODES.has(reason) || (typeof name === 'string' && UNREACHABLE_NAMES.has(name))) {
    return new StorageUnavailableError(driver, `${driver}: the storage backend did not answer (${reason})`, { cause: err });
  }
  return undefined;
}

/** The errno code of a Node system error (ENOENT, EINVAL, …), if it is one. */
export function errnoCode(err: unknown): string | undefined {
  return (err as NodeJS.ErrnoException | null)?.code;
}

export function isPathNotFound(err: unknown): err is PathNotFoundError {
  return err instanceof PathNotFoundError;
}
