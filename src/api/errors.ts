import type { Logger } from 'pino';
import { ErrorCodes, RegistryError } from '../oci/errors.js';
import { InvalidOffsetError, InvalidPathError, StorageFullError, StorageUnavailableError } from '../storage/driver/errors.js';
import type { Context } from './context.js';

/** The message of every answer to a write that found the storage device full. */
export const NO_SPACE = 'no space left on the storage device';

/** Turns anything a handler threw into a registry error: the one place that picks a wire code. */
export function toRegistryError(err: unknown): RegistryError {
  if (err instanceof RegistryError) return err;
  if (err instanceof InvalidPathError) return new RegistryError('NAME_INVALID', 'invalid path');
  if (err instanceof InvalidOffsetError) return new RegistryError('RANGE_INVALID');
  // Faults of the storage as a whole (docs/operations.md, "Failure modes"): 503 UNAVAILABLE, the
  // answer a client or load balancer takes as "try again later"; Distribution answers 500 UNKNOWN.
  if (err instanceof StorageFullError) return new RegistryError('UNAVAILABLE', NO_SPACE, undefined, { cause: err });
  if (err instanceof StorageUnavailableError) return new RegistryError('UNAVAILABLE', err.message, undefined, { cause: err });
  return new RegistryError('UNKNOWN', ErrorCodes.UNKNOWN.message, undefined, { cause: err });
}

/**
 * Writes the spec's error envelope, unless the response has already started (then the connection
 * is cut). A request whose client closed its connection mid-body is nobody's error to report: a
 * debug line, not an error, since any client can cause as many as it likes.
 */
export function sendError(ctx: Context, log: Logger, thrown: unknown): void {
  if (clientWentAway(ctx, thrown)) {
    log.debug({ reason: (thrown as Error).message }, 'client closed the connection before the request ended');
    ctx.res.destroy();
    return;
  }
  const err = toRegistryError(thrown);
  const storageFault = err.cause instanceof StorageFullError || err.cause instanceof StorageUnavailableError;
  if (err.code === 'UNKNOWN') log.error({ err: err.cause ?? thrown }, 'request failed');
  else if (storageFault) log.error({ err: err.cause }, 'storage unavailable');
  const { res } = ctx;
  if (res.headersSent) {
    res.destroy();
    return;
  }
  // A body the storage could not take is not read to its end (a full disk must not make the
  // server swallow the rest of a 1 GiB layer): the connection closes after the answer.
  if (storageFault && !ctx.req.complete && ctx.req.httpVersionMajor === 1) res.setHeader('Connection', 'close');
  const errors = [err, ...err.also].map((e) => ({ code: e.code, message: e.message, detail: e.detail ?? {} }));
  const body = Buffer.from(JSON.stringify({ errors }));
  res.writeHead(err.status, { ...err.headers, 'Content-Type': 'application/json', 'Content-Length': body.length });
  res.end(ctx.method === 'HEAD' ? undefined : body);
}

/** Whether `thrown` is the request stream's own end by the client (reset, or closed before the body was complete). */
function clientWentAway(ctx: Context, thrown: unknown): boolean {
  const { req } = ctx;
  if (thrown !== undefined && thrown === req.errored) return true;
  return (thrown as NodeJS.ErrnoException | undefined)?.code === 'ERR_STREAM_PREMATURE_CLOSE' && req.destroyed && !req.complete;
}
