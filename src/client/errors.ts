/**
 * The client's errors, named once. Every error from a request carries the registry, the request
 * (`METHOD URL`, without credentials) and the spec's error code: from the registry's error body
 * when it sent one, otherwise the code the spec gives that status in that place (a HEAD has no
 * body). Callers branch on the class (`instanceof NotFoundError`) or on `code`.
 */
import { ErrorCodes, type ErrorCode } from '../oci/errors.js';

export interface ErrorBodyEntry {
  code: string;
  message?: string;
  detail?: unknown;
}

export interface RequestInfo {
  /** `host[:port]` of the registry (or the token server) the request went to. */
  registry: string;
  method: string;
  url: string;
}

export class ClientError extends Error {
  /** The spec's error code (`MANIFEST_UNKNOWN`, `DENIED`, …), or a client-side one. */
  readonly code: string;
  /** The message alone, without the registry, request and code the full message starts with. */
  readonly reason: string;
  readonly registry?: string;
  readonly request?: string;
  readonly status?: number;
  /** Every entry of the registry's error body. */
  readonly errors: ErrorBodyEntry[];

  constructor(message: string, o: { code: string; info?: RequestInfo; status?: number; errors?: ErrorBodyEntry[]; cause?: unknown }) {
    const where = o.info ? `${o.info.registry}: ${o.info.method} ${o.info.url}: ` : '';
    const status = o.status !== undefined ? `${o.status} ` : '';
    super(`${where}${status}${o.code}: ${message}`, { cause: o.cause });
    this.name = new.target.name;
    this.code = o.code;
    this.reason = message;
    this.registry = o.info?.registry;
    this.request = o.info ? `${o.info.method} ${o.info.url}` : undefined;
    this.status = o.status;
    this.errors = o.errors ?? [];
  }
}

/** 404: the blob, manifest, repository or upload is not there. */
export class NotFoundError extends ClientError {}
/** 401: no or bad credentials, or the token server refused them. */
export class UnauthorizedError extends ClientError {}
/** 403: authenticated, not allowed. */
export class DeniedError extends ClientError {}
/** 405 or a missing API: the registry does not do this (deletes off, read-only, no referrers API). */
export class UnsupportedError extends ClientError {}
/** 429, after the retries ran out. */
export class TooManyRequestsError extends ClientError {}
/** 5xx, after the retries ran out. */
export class ServerError extends ClientError {}
/** Any other 4xx: the request was refused as invalid (`MANIFEST_INVALID`, `DIGEST_INVALID`, …). */
export class RequestError extends ClientError {}
/** The bytes do not hash to the digest (or have another size than) the descriptor says. */
export class DigestMismatchError extends ClientError {}
/** The connection failed (refused, reset, timed out) and the retries ran out. */
export class NetworkError extends ClientError {}
/** The registry answered something the spec does not allow here. */
export class ProtocolError extends ClientError {}
/** A target has no such content or tag (layout and memory targets; a remote's 404 is NotFoundError). */
export class ContentNotFoundError extends ClientError {}

const classByStatus: Record<number, typeof ClientError> = {
  401: UnauthorizedError,
  403: DeniedError,
  404: NotFoundError,
  405: UnsupportedError,
  429: TooManyRequestsError,
};

const codeByStatus: Record<number, ErrorCode> = {
  401: 'UNAUTHORIZED',
  403: 'DENIED',
  405: 'UNSUPPORTED',
  416: 'RANGE_INVALID',
  429: 'TOOMANYREQUESTS',
  503: 'UNAVAILABLE',
};

/** The spec code a status means when the body names none (a 404's depends on what was asked for). */
function codeFor(status: number, notFound: ErrorCode): ErrorCode {
  return status === 404 ? notFound : codeByStatus[status] ?? 'UNKNOWN';
}

/** The error body (`{"errors":[{code,message,detail}]}`) when there is one. */
export function parseErrorBody(text: string): ErrorBodyEntry[] {
  try {
    const doc = JSON.parse(text) as { errors?: unknown };
    if (!Array.isArray(doc.errors)) return [];
    return doc.errors.filter((e): e is ErrorBodyEntry => typeof e === 'object' && e !== null && typeof (e as ErrorBodyEntry).code === 'string');
  } catch {
    return [];
  }
}

/** The one place a refused response becomes an error. */
export function responseError(info: RequestInfo, status: number, bodyText: string, notFound: ErrorCode = 'NAME_UNKNOWN'): ClientError {
  const errors = parseErrorBody(bodyText);
  const first = errors[0];
  const code = first?.code ?? codeFor(status, notFound);
  const message = first?.message ?? (bodyText.trim().slice(0, 200) || ErrorCodes[code as ErrorCode]?.message || 'request failed');
  const Class = classByStatus[status] ?? (status >= 500 ? ServerError : status >= 400 ? RequestError : ProtocolError);
  return new Class(message, { code, info, status, errors });
}
