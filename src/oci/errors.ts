/**
 * The one table of wire error codes (OCI Distribution spec plus the few Distribution adds),
 * each with its HTTP status. Storage and services throw RegistryError (or driver errors that the
 * API layer translates in api/errors.ts); nothing else decides a status code.
 */
export const ErrorCodes = {
  BLOB_UNKNOWN: { status: 404, message: 'blob unknown to registry' },
  BLOB_UPLOAD_INVALID: { status: 400, message: 'blob upload invalid' },
  BLOB_UPLOAD_UNKNOWN: { status: 404, message: 'blob upload unknown to registry' },
  DIGEST_INVALID: { status: 400, message: 'provided digest did not match uploaded content' },
  MANIFEST_BLOB_UNKNOWN: { status: 400, message: 'manifest references a manifest or blob unknown to registry' },
  MANIFEST_INVALID: { status: 400, message: 'manifest invalid' },
  MANIFEST_UNKNOWN: { status: 404, message: 'manifest unknown to registry' },
  MANIFEST_UNVERIFIED: { status: 400, message: 'manifest failed signature verification' },
  NAME_INVALID: { status: 400, message: 'invalid repository name' },
  NAME_UNKNOWN: { status: 404, message: 'repository name not known to registry' },
  SIZE_INVALID: { status: 400, message: 'provided length did not match content length' },
  TAG_INVALID: { status: 400, message: 'manifest tag did not match URI' },
  RANGE_INVALID: { status: 416, message: 'invalid content range' },
  PAGINATION_NUMBER_INVALID: { status: 400, message: 'invalid number of results requested' },
  UNAUTHORIZED: { status: 401, message: 'authentication required' },
  DENIED: { status: 403, message: 'requested access to the resource is denied' },
  UNSUPPORTED: { status: 405, message: 'the operation is unsupported' },
  TOOMANYREQUESTS: { status: 429, message: 'too many requests' },
  UNAVAILABLE: { status: 503, message: 'service unavailable' },
  UNKNOWN: { status: 500, message: 'unknown error' },
} as const satisfies Record<string, { status: number; message: string }>;

export type ErrorCode = keyof typeof ErrorCodes;

export class RegistryError extends Error {
  readonly code: ErrorCode;
  readonly status: number;
  readonly detail: unknown;
  /** Extra response headers (e.g. Range on an out-of-order chunk, WWW-Authenticate). */
  readonly headers: Record<string, string>;
  /** Further errors answered in the same envelope (this one decides the status). */
  readonly also: readonly RegistryError[];

  constructor(
    code: ErrorCode,
    message?: string,
    detail?: unknown,
    opts: { status?: number; headers?: Record<string, string>; cause?: unknown; also?: readonly RegistryError[] } = {},
  ) {
    super(message ?? ErrorCodes[code].message, { cause: opts.cause });
    this.name = 'RegistryError';
    this.code = code;
    this.status = opts.status ?? ErrorCodes[code].status;
    this.detail = detail;
    this.headers = opts.headers ?? {};
    this.also = opts.also ?? [];
  }

  /** Several errors as one answer, as Distribution gives one MANIFEST_BLOB_UNKNOWN per missing blob. */
  static all(errors: readonly [RegistryError, ...RegistryError[]]): RegistryError {
    const [first, ...rest] = errors;
    if (rest.length === 0) return first;
    return new RegistryError(first.code, first.message, first.detail, { status: first.status, headers: first.headers, cause: first.cause, also: rest });
  }
}

export function isRegistryError(err: unknown): err is RegistryError {
  return err instanceof RegistryError;
}
