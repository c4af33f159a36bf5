import { pino, type DestinationStream, type Logger } from 'pino';
import type { LogConfig } from './config/types.js';

export type { Logger } from 'pino';

type SonicBoom = ReturnType<typeof pino.destination>;

/**
 * Paths never written to the log: the HTTP secret, passwords and keys wherever they appear in a
 * logged object (configuration sections, driver parameters), and credentials in request headers.
 */
export const REDACTED_PATHS = [
  'secret',
  'password',
  'accesskey',
  'secretkey',
  'accountkey',
  '*.secret',
  '*.password',
  '*.secretkey',
  '*.accesskey',
  '*.accountkey',
  '*.*.secret',
  '*.*.password',
  'http.secret',
  'config.http.secret',
  'headers.authorization',
  'headers.cookie',
  'req.headers.authorization',
  'req.headers.cookie',
  'request.headers.authorization',
  'res.headers["set-cookie"]',
];

/**
 * The logger for the configured level, format and static fields. `json` writes one JSON object
 * per line; `text` writes logrus-style `key=value` lines, as Distribution does. Output goes to stderr unless `destination`
 * is given, as Distribution's logs do.
 */
export function createLogger(log: LogConfig, destination?: DestinationStream): Logger {
  const options = {
    level: log.level,
    base: { ...log.fields },
    redact: { paths: REDACTED_PATHS, censor: '[redacted]' },
  };
  const out = destination ?? bufferedStderr();
  return pino(options, log.formatter === 'json' ? out : textLines(out));
}

/** Where the text formatter writes, so access lines can be written there directly. */
const TEXT_OUT = Symbol('berth.textOut');

const LEVEL_NAMES: Record<number, string> = { 10: 'trace', 20: 'debug', 30: 'info', 40: 'warning', 50: 'error', 60: 'fatal' };

/**
 * The `text` format, as Distribution's logrus writes it: `time="…" level=info msg="…" key=value`.
 * Each JSON line pino makes is re-read once and written as one text line (far cheaper than a
 * pretty-printer on the hot path: an access line per request).
 */
function textLines(out: DestinationStream): DestinationStream & { [TEXT_OUT]: DestinationStream } {
  return {
    [TEXT_OUT]: out,
    write(line: string) {
      let entry: Record<string, unknown>;
      try {
        entry = JSON.parse(line) as Record<string, unknown>;
      } catch {
        out.write(line);
        return;
      }
      const { time, level, msg, ...fields } = entry;
      let text = `time="${new Date(typeof time === 'number' ? time : Date.now()).toISOString()}" level=${LEVEL_NAMES[level as number] ?? String(level)}`;
      if (msg !== undefined) text += ` msg=${quoteValue(msg)}`;
      for (const key in fields) {
        const value = fields[key] as { message?: unknown; stack?: unknown } | undefined;
        if (key === 'err' && typeof value?.message === 'string') {
          text += ` err=${quoteValue(value.message)}`;
          if (typeof value.stack === 'string') text += ` stack=${quoteValue(value.stack)}`;
        } else text += ` ${key}=${quoteValue(value)}`;
      }
      out.write(`${text}\n`);
    },
  };
}

function quoteValue(value: unknown): string {
  const text = typeof value === 'string' ? value : typeof value === 'object' && value !== null ? JSON.stringify(value) : String(value);
  return /^[A-Za-z0-9._:/@+-]+$/.test(text) ? text : JSON.stringify(text);
}

/**
 * stderr through a buffer (bufferedDestination): one per process, however many loggers write to
 * it (each startRegistry with logs on makes one).
 */
let stderrBuffer: DestinationStream | undefined;
function bufferedStderr(): DestinationStream {
  return (stderrBuffer ??= bufferedDestination(2));
}

/**
 * `fd` through a buffer: one write per few KiB of log instead of one per line (a line per
 * request is the registry's hottest I/O after the response itself). Flushed `flushMs` after the
 * first line it holds, so lines are late by at most that, and at exit. An idle process is not
 * woken for it: a timer that flushed every interval woke the event loop five times a second for a
 * write call of 0 bytes.
 */
export function bufferedDestination(fd: number, flushMs = 200): DestinationStream & { readonly buffer: SonicBoom; stop(): void } {
  // Given buffers: given strings, sonic-boom appends each line to the string it holds and measures
  // that whole string again (a copy of up to minLength bytes per line, a fifth of what a manifest
  // GET allocated); with buffers it keeps their lengths.
  const buffer = pino.destination({ fd, sync: false, minLength: 8192, contentMode: 'buffer' });
  let held = 0; // bytes given to the buffer and not yet written out
  let timer: NodeJS.Timeout | undefined;
  const arm = (): void => {
    if (timer || held === 0) return;
    timer = setTimeout(flush, flushMs);
    timer.unref();
  };
  const flush = (): void => {
    timer = undefined;
    buffer.flush();
  };
  buffer.on('write', (n: number) => (held -= n));
  // A flush while a write is in flight does nothing (a log write can wait long in the pool behind
  // bcrypt hashes), and sonic-boom keeps what is left under minLength when that write ends: arm
  // again then, or the lines wait for the next one logged.
  buffer.on('drain', arm);
  const atExit = (): void => {
    try {
      buffer.flushSync();
    } catch {
      // the file already closed: nothing left to save
    }
  };
  process.once('exit', atExit);
  return {
    buffer,
    write: (line: string) => {
      const bytes = Buffer.from(line);
      held += bytes.length;
      buffer.write(bytes as unknown as string);
      arm();
    },
    stop: () => {
      clearTimeout(timer);
      process.off('exit', atExit);
      atExit();
    },
  };
}

/**
 * A logger for access-log lines: same level, fields and output as `logger`, without the
 * redaction pass, since those lines hold only fields the server chooses (never headers).
 */
export function accessLogger(logger: Logger): AccessLog {
  const stream = (logger as unknown as Record<symbol, DestinationStream>)[pino.symbols.streamSym] as DestinationStream & { [TEXT_OUT]?: DestinationStream };
  const text = stream[TEXT_OUT];
  if (!text) {
    const json = pino({ level: logger.level, base: logger.bindings() }, stream);
    return { enabled: json.isLevelEnabled('info'), write: (fields) => json.info(fields, 'request') };
  }
  // The text format is written directly: no JSON round trip for the busiest line there is.
  let bound = '';
  for (const [key, value] of Object.entries(logger.bindings())) bound += ` ${key}=${quoteValue(value)}`;
  return {
    enabled: logger.isLevelEnabled('info'),
    write(fields) {
      let line = `time="${new Date().toISOString()}" level=info msg=request${bound}`;
      for (const key in fields) line += ` ${key}=${quoteValue(fields[key])}`;
      text.write(`${line}\n`);
    },
  };
}

/** One access-log line per request (src/api/dispatch.ts), in the configured format. */
export interface AccessLog {
  readonly enabled: boolean;
  write(fields: Record<string, unknown>): void;
}


/** Where the API layer records a request's id on its IncomingMessage (see requestLog). */
export const REQUEST_ID = Symbol.for('berth.requestId');

/** Where the request's trace ids are recorded on its IncomingMessage when tracing is on (src/api/traced.ts). */
export const TRACE_IDS = Symbol.for('berth.traceIds');

/** The trace and span id of the request's span (OpenTelemetry's log field names), when it is traced. */
export interface TraceIds {
  trace_id: string;
  span_id: string;
}

export function traceIds(req: object): TraceIds | undefined {
  return (req as { [TRACE_IDS]?: TraceIds })[TRACE_IDS];
}

/**
 * `log` with the request id of `req` bound (field `reqId`, and `trace_id`, `span_id` when it is
 * traced), for code that logs about a request but is handed the raw IncomingMessage rather than
 * the API context (access controllers, for example). Returns `log` itself when the request
 * carries no id.
 */
export function requestLog(log: Logger, req: object): Logger {
  const id = (req as { [REQUEST_ID]?: string })[REQUEST_ID];
  return id === undefined ? log : log.child({ reqId: id, ...traceIds(req) });
}
