import type { Logger } from 'pino';
import { ErrorCodes, RegistryError } from '../oci/errors.js';
import { InvalidOffsetError, InvalidPathError } from '../storage/driver/errors.js';
import type { Context } from './context.js';

/** Turns anything a handler threw into a registry error: the one place that picks a wire code. */
export function toRegistryError(err: unknown): RegistryError {
  if (err instanceof RegistryError) return err;
  if (err instanceof InvalidPathError) return new RegistryError('NAME_INVALID', 'invalid path');
  if (err instanceof InvalidOffsetError) return new RegistryError('RANGE_INVALID');
  return new RegistryError('UNKNOWN', ErrorCodes.UNKNOWN.message, undefined, { cause: err });
}

/** Writes the spec's error envelope, unless the response has already started (then the connection is cut). */
export function sendError(ctx: Context, log: Logger, thrown: unknown): void {
  const err = toRegistryError(thrown);
  if (err.code === 'UNKNOWN') log.error({ err: err.cause ?? thrown }, 'request failed');
  const { res } = ctx;
  if (res.headersSent) {
    res.destroy();
    return;
  }
  const errors = [err, ...err.also].map((e) => ({ code: e.code, message: e.message, detail: e.detail ?? {} }));
  const body = Buffer.from(JSON.stringify({ errors }));
  res.writeHead(err.status, { ...err.headers, 'Content-Type': 'application/json', 'Content-Length': body.length });
  res.end(ctx.method === 'HEAD' ? undefined : body);
}
