// A local OTLP/HTTP trace endpoint for the tracing tests: a real HTTP server on a loopback port
// that accepts POST /v1/traces in both encodings the OTLP specification defines for HTTP —
// binary protobuf (decoded with protobufjs against the message definitions below, written from
// the OTLP trace protocol) and JSON — and keeps every span it received in one normalised form.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import protobuf from 'protobufjs';

/**
 * The part of opentelemetry-proto's ExportTraceServiceRequest these tests read, with the field
 * numbers of the protocol; fields not declared here are skipped by the decoder.
 */
const OTLP = protobuf.Root.fromJSON({
  nested: {
    ExportTraceServiceRequest: { fields: { resourceSpans: { rule: 'repeated', type: 'ResourceSpans', id: 1 } } },
    ResourceSpans: { fields: { resource: { type: 'Resource', id: 1 }, scopeSpans: { rule: 'repeated', type: 'ScopeSpans', id: 2 } } },
    Resource: { fields: { attributes: { rule: 'repeated', type: 'KeyValue', id: 1 } } },
    ScopeSpans: { fields: { scope: { type: 'InstrumentationScope', id: 1 }, spans: { rule: 'repeated', type: 'Span', id: 2 } } },
    InstrumentationScope: { fields: { name: { type: 'string', id: 1 } } },
    Span: {
      fields: {
        traceId: { type: 'bytes', id: 1 },
        spanId: { type: 'bytes', id: 2 },
        parentSpanId: { type: 'bytes', id: 4 },
        name: { type: 'string', id: 5 },
        kind: { type: 'int32', id: 6 },
        attributes: { rule: 'repeated', type: 'KeyValue', id: 9 },
        status: { type: 'Status', id: 15 },
      },
    },
    Status: { fields: { message: { type: 'string', id: 2 }, code: { type: 'int32', id: 3 } } },
    KeyValue: { fields: { key: { type: 'string', id: 1 }, value: { type: 'AnyValue', id: 2 } } },
    AnyValue: {
      oneofs: { value: { oneof: ['stringValue', 'boolValue', 'intValue', 'doubleValue'] } },
      fields: {
        stringValue: { type: 'string', id: 1 },
        boolValue: { type: 'bool', id: 2 },
        intValue: { type: 'int64', id: 3 },
        doubleValue: { type: 'double', id: 4 },
      },
    },
  },
}).lookupType('ExportTraceServiceRequest');

/** OTLP's SpanKind values. */
export const SPAN_KIND = { internal: 1, server: 2, client: 3 } as const;
/** OTLP's StatusCode values. */
export const STATUS = { unset: 0, ok: 1, error: 2 } as const;

export interface ReceivedSpan {
  traceId: string;
  spanId: string;
  /** Empty for a root span. */
  parentSpanId: string;
  name: string;
  kind: number;
  attributes: Record<string, string | number | boolean>;
  status: number;
  /** The resource's service.name. */
  service: string;
}

type AnyValue = { stringValue?: string; boolValue?: boolean; intValue?: number | string | { toNumber(): number }; doubleValue?: number };
type KeyValue = { key: string; value?: AnyValue };
type WireSpan = { traceId?: string | Uint8Array; spanId?: string | Uint8Array; parentSpanId?: string | Uint8Array; name?: string; kind?: number; attributes?: KeyValue[]; status?: { code?: number } };
type WireRequest = { resourceSpans?: { resource?: { attributes?: KeyValue[] }; scopeSpans?: { spans?: WireSpan[] }[] }[] };

/** Ids are bytes in protobuf and hex strings in OTLP/JSON: both become lower-case hex here. */
function hexId(id: string | Uint8Array | undefined): string {
  if (id === undefined) return '';
  return typeof id === 'string' ? id.toLowerCase() : Buffer.from(id as ArrayLike<number>).toString('hex');
}

function valueOf(v: AnyValue | undefined): string | number | boolean {
  if (v === undefined) return '';
  if (v.stringValue !== undefined) return v.stringValue;
  if (v.boolValue !== undefined) return v.boolValue;
  if (v.doubleValue !== undefined) return v.doubleValue;
  const i = v.intValue;
  if (i === undefined) return '';
  return typeof i === 'object' ? i.toNumber() : Number(i);
}

function attributes(list: KeyValue[] | undefined): Record<string, string | number | boolean> {
  return Object.fromEntries((list ?? []).map((kv) => [kv.key, valueOf(kv.value)]));
}

function normalise(request: WireRequest): ReceivedSpan[] {
  const out: ReceivedSpan[] = [];
  for (const rs of request.resourceSpans ?? []) {
    const service = String(attributes(rs.resource?.attributes)['service.name'] ?? '');
    for (const ss of rs.scopeSpans ?? []) {
      for (const s of ss.spans ?? []) {
        out.push({
          traceId: hexId(s.traceId),
          spanId: hexId(s.spanId),
          parentSpanId: hexId(s.parentSpanId),
          name: s.name ?? '',
          kind: s.kind ?? 0,
          attributes: attributes(s.attributes),
          status: s.status?.code ?? 0,
          service,
        });
      }
    }
  }
  return out;
}

export class OtlpReceiver {
  readonly spans: ReceivedSpan[] = [];
  /** The Content-Type of every export received. */
  readonly contentTypes: string[] = [];
  private server!: http.Server;
  url = '';

  static async start(): Promise<OtlpReceiver> {
    const r = new OtlpReceiver();
    r.server = http.createServer((req, res) => r.handle(req, res));
    await new Promise<void>((resolve) => r.server.listen(0, '127.0.0.1', resolve));
    r.url = `http://127.0.0.1:${(r.server.address() as AddressInfo).port}`;
    return r;
  }

  private handle(req: http.IncomingMessage, res: http.ServerResponse): void {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const type = (req.headers['content-type'] ?? '').split(';')[0]!.trim();
      if (req.method !== 'POST' || req.url !== '/v1/traces') {
        res.writeHead(404).end();
        return;
      }
      const body = Buffer.concat(chunks);
      let request: WireRequest;
      try {
        if (type === 'application/x-protobuf') request = OTLP.toObject(OTLP.decode(body), { longs: Number, bytes: Array }) as WireRequest;
        else if (type === 'application/json') request = JSON.parse(body.toString('utf8')) as WireRequest;
        else throw new Error(`unexpected content type ${type}`);
      } catch (err) {
        res.writeHead(400, { 'content-type': 'text/plain' }).end(String(err));
        return;
      }
      this.contentTypes.push(type);
      this.spans.push(...normalise(request));
      // An empty ExportTraceServiceResponse: accepted in full.
      if (type === 'application/json') res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
      else res.writeHead(200, { 'content-type': 'application/x-protobuf' }).end();
    });
  }

  async close(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}
