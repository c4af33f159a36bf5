import { context, propagation, ROOT_CONTEXT, SpanKind as OtelSpanKind, SpanStatusCode, trace, type Span as OtelSpan, type Tracer as OtelTracer } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { setGlobalErrorHandler, W3CTraceContextPropagator } from '@opentelemetry/core';
import { detectResources, envDetector, resourceFromAttributes } from '@opentelemetry/resources';
import { BasicTracerProvider, BatchSpanProcessor, ConsoleSpanExporter, type SpanExporter } from '@opentelemetry/sdk-trace-base';
import type { Logger } from 'pino';
import type { Attributes, Span, SpanKind, Tracer } from './index.js';

/**
 * The OpenTelemetry SDK behind the tracing seam, built from the standard environment variables:
 * OTEL_TRACES_EXPORTER (otlp, console, none), OTEL_EXPORTER_OTLP_[TRACES_]PROTOCOL (http/protobuf,
 * the default, or http/json), OTEL_EXPORTER_OTLP_[TRACES_]ENDPOINT, _HEADERS, _TIMEOUT (read by
 * the exporters), OTEL_SERVICE_NAME and OTEL_RESOURCE_ATTRIBUTES, OTEL_TRACES_SAMPLER[_ARG] and
 * OTEL_BSP_* (read by the SDK). Spans are batched and sent in the background; an endpoint that is
 * down costs dropped spans and a log line a minute, never a request.
 */

const KINDS: Record<SpanKind, OtelSpanKind> = { server: OtelSpanKind.SERVER, client: OtelSpanKind.CLIENT, internal: OtelSpanKind.INTERNAL };
const ERROR_LOG_INTERVAL_MS = 60_000;

export async function createTracer(env: NodeJS.ProcessEnv, logger: Logger): Promise<Tracer> {
  const exporters = await createExporters(env);
  const resource = resourceFromAttributes({ 'service.name': 'berth' }).merge(detectResources({ detectors: [envDetector] }));
  const provider = new BasicTracerProvider({ resource, spanProcessors: exporters.map((e) => new BatchSpanProcessor(e)) });
  const contextManager = new AsyncLocalStorageContextManager().enable();
  context.setGlobalContextManager(contextManager);
  propagation.setGlobalPropagator(new W3CTraceContextPropagator());
  let lastLogged = 0;
  setGlobalErrorHandler((err) => {
    if (Date.now() - lastLogged < ERROR_LOG_INTERVAL_MS) return;
    lastLogged = Date.now();
    logger.warn({ err }, 'tracing: spans could not be exported (logged at most once a minute)');
  });
  const otlp = exporters.some((e) => e.constructor.name === 'OTLPTraceExporter');
  logger.info({ exporters: exporters.map((e) => e.constructor.name), ...(otlp ? { protocol: protocolOf(env) } : {}) }, 'tracing on (OpenTelemetry)');
  return new OtelTracerAdapter(provider.getTracer('berth'), async () => {
    await provider.shutdown();
    context.disable();
    propagation.disable();
  });
}

function protocolOf(env: NodeJS.ProcessEnv): string {
  return (env.OTEL_EXPORTER_OTLP_TRACES_PROTOCOL ?? env.OTEL_EXPORTER_OTLP_PROTOCOL ?? 'http/protobuf').trim();
}

async function createExporters(env: NodeJS.ProcessEnv): Promise<SpanExporter[]> {
  const names = (env.OTEL_TRACES_EXPORTER ?? 'otlp')
    .split(',')
    .map((n) => n.trim().toLowerCase())
    .filter(Boolean);
  const exporters: SpanExporter[] = [];
  for (const name of new Set(names)) {
    if (name === 'otlp') exporters.push(await otlpExporter(env));
    else if (name === 'console') exporters.push(new ConsoleSpanExporter());
    else if (name !== 'none') throw new Error(`OTEL_TRACES_EXPORTER: "${name}" is not supported (otlp, console or none)`);
  }
  return exporters;
}

/** The OTLP/HTTP exporter for the configured protocol; only that one's package is loaded. */
async function otlpExporter(env: NodeJS.ProcessEnv): Promise<SpanExporter> {
  const protocol = protocolOf(env);
  if (protocol === 'http/protobuf') return new (await import('@opentelemetry/exporter-trace-otlp-proto')).OTLPTraceExporter();
  if (protocol === 'http/json') return new (await import('@opentelemetry/exporter-trace-otlp-http')).OTLPTraceExporter();
  const key = env.OTEL_EXPORTER_OTLP_TRACES_PROTOCOL ? 'OTEL_EXPORTER_OTLP_TRACES_PROTOCOL' : 'OTEL_EXPORTER_OTLP_PROTOCOL';
  throw new Error(`${key}: "${protocol}" is not supported; Berth sends OTLP over HTTP: http/protobuf (the default) or http/json`);
}

class SpanHandle implements Span {
  readonly traceId: string;
  readonly spanId: string;

  constructor(readonly span: OtelSpan) {
    const ids = span.spanContext();
    this.traceId = ids.traceId;
    this.spanId = ids.spanId;
  }

  setAttribute(key: string, value: string | number | boolean): void {
    this.span.setAttribute(key, value);
  }

  updateName(name: string): void {
    this.span.updateName(name);
  }

  fail(error: unknown): void {
    if (error instanceof Error) {
      this.span.recordException(error);
      this.span.setAttribute('error.type', error.constructor.name);
      this.span.setStatus({ code: SpanStatusCode.ERROR, message: error.message });
    } else this.span.setStatus({ code: SpanStatusCode.ERROR, message: String(error) });
  }

  end(): void {
    this.span.end();
  }
}

function defined(attributes: Attributes): Record<string, string | number | boolean> {
  const out: Record<string, string | number | boolean> = {};
  for (const key in attributes) {
    const value = attributes[key];
    if (value !== undefined) out[key] = value;
  }
  return out;
}

class OtelTracerAdapter implements Tracer {
  constructor(
    private readonly tracer: OtelTracer,
    readonly shutdown: () => Promise<void>,
  ) {}

  startRequestSpan(name: string, headers: Record<string, string | string[] | undefined>, attributes: Attributes): Span {
    const parent = propagation.extract(ROOT_CONTEXT, headers);
    return new SpanHandle(this.tracer.startSpan(name, { kind: OtelSpanKind.SERVER, attributes: defined(attributes) }, parent));
  }

  withSpan<T>(span: Span, fn: () => T): T {
    return context.with(trace.setSpan(context.active(), (span as SpanHandle).span), fn);
  }

  async inSpan<T>(name: string, kind: SpanKind, attributes: Attributes, fn: (span: Span | undefined) => Promise<T>, isFailure?: (err: unknown) => boolean): Promise<T> {
    const parent = context.active();
    if (!trace.getSpan(parent)) return fn(undefined);
    const span = new SpanHandle(this.tracer.startSpan(name, { kind: KINDS[kind], attributes: defined(attributes) }, parent));
    return context.with(trace.setSpan(parent, span.span), async () => {
      try {
        return await fn(span);
      } catch (err) {
        if (!isFailure || isFailure(err)) span.fail(err);
        throw err;
      } finally {
        span.end();
      }
    });
  }

  startSpan(name: string, kind: SpanKind, attributes: Attributes): Span | undefined {
    const parent = context.active();
    if (!trace.getSpan(parent)) return undefined;
    return new SpanHandle(this.tracer.startSpan(name, { kind: KINDS[kind], attributes: defined(attributes) }, parent));
  }

  inject(headers: Record<string, string>): void {
    propagation.inject(context.active(), headers);
  }
}
