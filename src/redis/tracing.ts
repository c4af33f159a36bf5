import { tracingChannel } from 'node:diagnostics_channel';
import type { CommandTraceContext } from 'ioredis';
import { tracer, type Span } from '../tracing/index.js';

/**
 * Redis commands as client spans (`redis <COMMAND>`), from the `ioredis:command` tracing channel
 * ioredis publishes on: no wrapping of the client. Subscribed only once tracing is on (ioredis
 * builds the channel's context only while someone listens); commands outside a request make none.
 */

const SPAN = Symbol('berth.redisSpan');
type Message = CommandTraceContext & { [SPAN]?: Span; error?: unknown };

let subscribed = false;

export function traceRedisCommands(): void {
  if (subscribed) return;
  subscribed = true;
  tracingChannel('ioredis:command').subscribe({
    start(message) {
      const m = message as Message;
      const span = tracer?.startSpan(`redis ${m.command.toUpperCase()}`, 'client', {
        'db.system.name': 'redis',
        'db.operation.name': m.command.toUpperCase(),
        'db.namespace': String(m.database),
        'server.address': m.serverAddress,
        'server.port': m.serverPort,
      });
      if (span) m[SPAN] = span;
    },
    // A command that threw at once ends here; one that was sent ends when its answer arrives.
    end(message) {
      const m = message as Message;
      if (m.error !== undefined) m[SPAN]?.end();
    },
    asyncStart() {},
    asyncEnd(message) {
      (message as Message)[SPAN]?.end();
    },
    error(message) {
      const m = message as Message;
      m[SPAN]?.fail(m.error);
    },
  });
}
