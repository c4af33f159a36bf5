import type { IncomingHttpHeaders } from 'node:http';
import type { Logger } from 'pino';

/**
 * The tracing seam: what the rest of Berth calls to make spans, with no OpenTelemetry import.
 * Tracing is configured, as in Distribution 3, by the standard OTEL_* environment variables and
 * is off unless OTEL_TRACES_EXPORTER or an OTLP endpoint is set; then ./otel.ts (and with it the
 * @opentelemetry packages) is loaded and `tracer` is set for the process. With it off, `tracer`
 * is undefined and every call site costs one read of it.
 */

export type SpanKind = 'server' | 'client' | 'internal';
export type AttributeValue = string | number | boolean;
export type Attributes = Record<string, AttributeValue | undefined>;

export interface Span {
  readonly traceId: string;
  readonly spanId: string;
  setAttribute(key: string, value: AttributeValue): void;
  updateName(name: string): void;
  /** Marks the span failed, recording the error (or the message alone). */
  fail(error: unknown): void;
  end(): void;
}

export interface Tracer {
  /** The span of one incoming request: a child of its `traceparent` when it carries one, else a new trace. */
  startRequestSpan(name: string, headers: IncomingHttpHeaders, attributes: Attributes): Span;
  /** Runs `fn` with `span` as the active span: spans started inside it, even later in its async work, are its children. */
  withSpan<T>(span: Span, fn: () => T): T;
  /**
   * Runs `fn` in a child span of the active span, ended (and failed, if it rejects) when the
   * promise settles. Without an active span (work no request started: garbage collection, warm-up,
   * background reloads) no span is made and `fn` gets undefined. `isFailure` tells which rejections
   * mark the span failed (all by default; "path not found" from storage is an answer, not a failure).
   */
  inSpan<T>(name: string, kind: SpanKind, attributes: Attributes, fn: (span: Span | undefined) => Promise<T>, isFailure?: (err: unknown) => boolean): Promise<T>;
  /** A child span of the active one, for work whose end the caller sees later; undefined without an active span. */
  startSpan(name: string, kind: SpanKind, attributes: Attributes): Span | undefined;
  /** Adds the active span's `traceparent` (and `tracestate`) to an outgoing request's headers. */
  inject(headers: Record<string, string>): void;
  /** Sends what is buffered and stops. */
  shutdown(): Promise<void>;
}

/** The process's tracer while tracing is on; undefined otherwise. */
export let tracer: Tracer | undefined;

/** `fn` in a child span of the active one when tracing is on; `fn(undefined)` otherwise. */
export function traced<T>(name: string, kind: SpanKind, attributes: Attributes, fn: (span: Span | undefined) => Promise<T>, isFailure?: (err: unknown) => boolean): Promise<T> {
  return tracer ? tracer.inSpan(name, kind, attributes, fn, isFailure) : fn(undefined);
}

/**
 * Whether the environment asks for traces: OTEL_TRACES_EXPORTER set to something other than
 * "none", or (it unset) an OTLP endpoint for traces; never with OTEL_SDK_DISABLED=true.
 */
export function tracingRequested(env: NodeJS.ProcessEnv = process.env): boolean {
  if (env.OTEL_SDK_DISABLED?.trim().toLowerCase() === 'true') return false;
  const exporters = env.OTEL_TRACES_EXPORTER?.trim();
  if (exporters) return exporters.toLowerCase() !== 'none';
  return Boolean(env.OTEL_EXPORTER_OTLP_ENDPOINT?.trim() || env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT?.trim());
}

let users = 0;
let starting: Promise<Tracer> | undefined;

/**
 * Starts tracing when the environment asks for it (a bad setting throws, naming it). Servers in
 * one process share the tracer; the function returned releases this server's use of it, and the
 * last release flushes the spans still buffered and stops it. Undefined when tracing is off.
 */
export async function startTracing(logger: Logger, env: NodeJS.ProcessEnv = process.env): Promise<(() => Promise<void>) | undefined> {
  if (!tracingRequested(env)) return undefined;
  users++;
  try {
    starting ??= import('./otel.js').then((m) => m.createTracer(env, logger));
    tracer = await starting;
  } catch (err) {
    users--;
    starting = undefined;
    throw err;
  }
  let released = false;
  return async () => {
    if (released) return;
    released = true;
    if (--users > 0) return;
    const stopping = tracer;
    tracer = undefined;
    starting = undefined;
    await stopping?.shutdown();
  };
}
