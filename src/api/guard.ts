import { AsyncLocalStorage } from 'node:async_hooks';
import type { ServerResponse } from 'node:http';
import type { Logger } from 'pino';

/**
 * The last-resort guard around every request, and what the process does with an exception that
 * nothing caught (docs/architecture.md, "Failures stay inside their request").
 *
 * Every request runs inside an AsyncLocalStorage scope holding its guard, so an exception thrown
 * from a callback the request started (a stream's unhandled 'error', a timer, a listener) or a
 * promise of its that nobody awaited is traced back to it wherever it surfaces. The guard logs it
 * with the request id and answers 500, or cuts the connection when the answer has started.
 */
export interface RequestGuard {
  readonly id: string;
  readonly log: Logger;
  readonly res: ServerResponse;
  readonly method: string;
}

const scope = new AsyncLocalStorage<RequestGuard>();

/** Runs `fn` (a request's whole handling) inside the request's scope. */
export function withinRequest<T>(guard: RequestGuard, fn: () => T): T {
  return scope.run(guard, fn);
}

const INTERNAL_BODY = Buffer.from(JSON.stringify({ errors: [{ code: 'UNKNOWN', message: 'unknown error', detail: {} }] }));

/**
 * What escaped a request's own error handling: logged with the request id; the request gets a
 * 500 if nothing was sent yet, else its connection is cut. Never throws.
 */
export function escapedFromRequest(guard: RequestGuard, err: unknown, where: string): void {
  try {
    guard.log.error({ err, escaped: where }, 'error escaped the request handler; answering 500 and serving on');
  } catch {
    // a logger that throws must not take the process down either
  }
  answerFailed(guard.res, guard.method);
}

function answerFailed(res: ServerResponse, method: string): void {
  try {
    if (res.headersSent || res.writableEnded) {
      res.destroy();
      return;
    }
    // The handler may still be running and may write again: close the connection after this answer.
    res.writeHead(500, { 'Content-Type': 'application/json', 'Content-Length': INTERNAL_BODY.length, Connection: 'close' });
    res.end(method === 'HEAD' ? undefined : INTERNAL_BODY);
  } catch {
    res.destroy();
  }
}

/**
 * Node's own errors that mean Node itself is in a state nobody can vouch for; the process exits
 * for these even inside a request.
 */
const FATAL_CODES = new Set(['ERR_INTERNAL_ASSERTION']);

/**
 * The process-level handlers, installed by `berth serve` (a program embedding the registry
 * decides for its own process, and may call this too):
 * - an uncaught exception or unhandled rejection inside a request's scope is that request's
 *   failure: logged with its id, answered 500, and the process serves on;
 * - an unhandled rejection outside any request is logged and the process serves on: it unwound
 *   through promise machinery, so no code was cut off half-way;
 * - an uncaught exception outside any request (a timer, a background job, a driver's connection)
 *   cut off code whose work and state are unknown: logged as fatal, and the process exits with
 *   status 1 for its supervisor to restart it. So does a Node internal assertion anywhere.
 */
export function guardProcess(logger: Logger): void {
  process.on('uncaughtException', (err, origin) => {
    const guard = scope.getStore();
    const code = (err as NodeJS.ErrnoException | undefined)?.code;
    if (guard && !(code && FATAL_CODES.has(code))) {
      escapedFromRequest(guard, err, origin);
      return;
    }
    logger.fatal({ err, origin }, guard ? 'Node.js internal assertion failed; exiting: the process state is unknown' : 'uncaught exception outside any request; exiting: the process state is unknown');
    process.exit(1);
  });
  process.on('unhandledRejection', (reason) => {
    const guard = scope.getStore();
    if (guard) escapedFromRequest(guard, reason, 'unhandledRejection');
    else logger.error({ err: reason }, 'unhandled promise rejection outside any request; serving on');
  });
}
