// OpenTelemetry tracing end to end: `berth serve` started with the standard OTEL_* variables sends
// its spans to a local OTLP endpoint (test/tracing/otlp-receiver.ts), once per OTLP/HTTP encoding.
// The traced registry uses the built-in token issuer, redis for blob descriptors and a mirror of an
// upstream registry, so one run shows every kind of span: the request's (a child of the
// traceparent the client sent), token verification, storage driver calls, redis commands and
// upstream requests, each with its attributes and parent; and the trace id in the request's log lines.
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { after, before, describe, it } from 'node:test';
import { pino } from 'pino';
import { startTracing, tracer, tracingRequested } from '../../src/tracing/index.js';
import { startRedis, type RedisServer } from '../helpers/redis.js';
import { startRegistry, type RunningRegistry } from '../clients/harness.js';
import { basic, Front, pushImage as pushUpstream, sha256, startBerth, tempDir, writeHtpasswd, type Berth } from '../proxy/helpers.js';
import { OtlpReceiver, SPAN_KIND, STATUS, type ReceivedSpan } from './otlp-receiver.js';

const OCI_MANIFEST = 'application/vnd.oci.image.manifest.v1+json';
const SERVICE = 'berth-test';

/** Environment that makes a server process log the @opentelemetry modules it resolves to `file`. */
function moduleLog(file: string): Record<string, string> {
  return { NODE_OPTIONS: `--import=${fileURLToPath(new URL('./module-log.mjs', import.meta.url))}`, BERTH_TEST_MODULE_LOG: file };
}

function loadedPackages(file: string): Set<string> {
  if (!existsSync(file)) return new Set();
  return new Set(readFileSync(file, 'utf8').split('\n').filter(Boolean).map((url) => /\/(@opentelemetry\/[^/]+)\//.exec(url)![1]!));
}

function traceparent(traceId: string, spanId: string): string {
  return `00-${traceId}-${spanId}-01`;
}

function randomHex(bytes: number): string {
  return Buffer.from(Array.from({ length: bytes }, () => Math.floor(Math.random() * 256))).toString('hex');
}

for (const protocol of ['http/protobuf', 'http/json'] as const) {
  describe(`tracing over OTLP ${protocol}`, () => {
    const tmp = tempDir(`tracing-${protocol.replace('/', '-')}`);
    let receiver: OtlpReceiver;
    let redis: RedisServer;
    let upstream: Berth;
    let front: Front;
    let berth: RunningRegistry;
    let stopped = false;
    const upstreamDigest = { manifest: '' };
    // What the client sent, and what the spans must show for it.
    const push = { traceId: randomHex(16), parent: randomHex(8), manifest: Buffer.alloc(0) };
    const pull = { traceId: randomHex(16), parent: randomHex(8) };
    const mirrorPull = { traceId: randomHex(16), parent: randomHex(8) };

    before(async () => {
      receiver = await OtlpReceiver.start();
      redis = await startRedis();
      upstream = await startBerth(`${tmp.dir}/upstream`);
      upstreamDigest.manifest = (await pushUpstream(upstream.url, 'lib/app', 'v1')).manifestDigest;
      // The mirror reaches the upstream through a recording front, which shows what it was sent.
      front = await new Front(upstream.url).start();
      writeHtpasswd(`${tmp.dir}/htpasswd`, { admin: 'secret' });
      berth = await startRegistry({
        kind: 'berth',
        root: `${tmp.dir}/root`,
        stateDir: tmp.dir,
        env: {
          OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url,
          OTEL_EXPORTER_OTLP_PROTOCOL: protocol,
          OTEL_SERVICE_NAME: SERVICE,
          OTEL_BSP_SCHEDULE_DELAY: '50',
          ...moduleLog(`${tmp.dir}/modules.log`),
        },
        config: (port) =>
          [
            'version: 0.1',
            'log:',
            '  level: info',
            '  formatter: json',
            'storage:',
            '  filesystem:',
            `    rootdirectory: ${tmp.dir}/root`,
            '  cache:',
            '    blobdescriptor: redis',
            'redis:',
            `  addr: ${redis.addr}`,
            'http:',
            `  addr: 127.0.0.1:${port}`,
            '  secret: tracing-test',
            'auth:',
            '  token:',
            '    autoredirect: true',
            '    service: berth-test',
            '    issuer: berth-test-issuer',
            'berth:',
            '  auth:',
            '    tokenissuer:',
            `      htpasswd: ${tmp.dir}/htpasswd`,
            '  proxy:',
            '    upstreams:',
            '      - prefix: mirror',
            `        remoteurl: ${front.url}`,
            '',
          ].join('\n'),
      });

      const token = async (scope: string) => {
        const r = await fetch(`${berth.url}/auth/token?service=berth-test&scope=${encodeURIComponent(scope)}`, { headers: { authorization: basic('admin', 'secret') } });
        assert.equal(r.status, 200);
        return `Bearer ${((await r.json()) as { token: string }).token}`;
      };
      const app = await token('repository:app:pull,push');

      // A push: a config blob in one POST, then the manifest, whose PUT carries a traceparent.
      const config = Buffer.from('{"architecture":"amd64","os":"linux"}');
      let r = await fetch(`${berth.url}/v2/app/blobs/uploads/?digest=${sha256(config)}`, { method: 'POST', body: new Uint8Array(config), headers: { authorization: app, 'content-type': 'application/octet-stream' } });
      assert.equal(r.status, 201);
      push.manifest = Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: OCI_MANIFEST, config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: sha256(config), size: config.length }, layers: [] }));
      r = await fetch(`${berth.url}/v2/app/manifests/v1`, {
        method: 'PUT',
        body: new Uint8Array(push.manifest),
        headers: { authorization: app, 'content-type': OCI_MANIFEST, traceparent: traceparent(push.traceId, push.parent) },
      });
      assert.equal(r.status, 201);
      r = await fetch(`${berth.url}/v2/app/manifests/v1`, { headers: { authorization: app, accept: OCI_MANIFEST, traceparent: traceparent(pull.traceId, pull.parent) } });
      assert.equal(r.status, 200);
      assert.deepEqual(Buffer.from(await r.arrayBuffer()), push.manifest);

      const mirror = await token('repository:mirror/lib/app:pull');
      r = await fetch(`${berth.url}/v2/mirror/lib/app/manifests/v1`, { headers: { authorization: mirror, accept: OCI_MANIFEST, traceparent: traceparent(mirrorPull.traceId, mirrorPull.parent) } });
      assert.equal(r.status, 200);
      assert.equal(r.headers.get('docker-content-digest'), upstreamDigest.manifest);
      await r.arrayBuffer();

      // Stopping flushes what is still batched.
      await berth.stop();
      stopped = true;
    });

    after(async () => {
      if (!stopped) await berth?.stop();
      await front?.stop();
      await upstream?.close();
      await redis?.stop();
      await receiver?.close();
      tmp.cleanup();
    });

    const inTrace = (traceId: string) => receiver.spans.filter((s) => s.traceId === traceId);
    const requestSpan = (traceId: string): ReceivedSpan => {
      const spans = inTrace(traceId).filter((s) => s.kind === SPAN_KIND.server);
      assert.equal(spans.length, 1, `one server span in trace ${traceId}: ${JSON.stringify(inTrace(traceId).map((s) => s.name))}`);
      return spans[0]!;
    };
    const childrenOf = (span: ReceivedSpan) => receiver.spans.filter((s) => s.traceId === span.traceId && s.parentSpanId === span.spanId);

    it(`loads the OpenTelemetry SDK and the ${protocol} exporter only`, () => {
      const loaded = loadedPackages(`${tmp.dir}/modules.log`);
      assert.ok(loaded.has('@opentelemetry/sdk-trace-base') && loaded.has('@opentelemetry/api'), [...loaded].join(', '));
      assert.equal(loaded.has('@opentelemetry/exporter-trace-otlp-proto'), protocol === 'http/protobuf');
      assert.equal(loaded.has('@opentelemetry/exporter-trace-otlp-http'), protocol === 'http/json');
    });

    it(`arrives in the ${protocol} encoding, under OTEL_SERVICE_NAME`, () => {
      assert.ok(receiver.contentTypes.length > 0);
      assert.deepEqual([...new Set(receiver.contentTypes)], [protocol === 'http/json' ? 'application/json' : 'application/x-protobuf']);
      assert.deepEqual([...new Set(receiver.spans.map((s) => s.service))], [SERVICE]);
    });

    it('makes one server span per request, a child of the traceparent it carried, named by its route', () => {
      const span = requestSpan(push.traceId);
      assert.equal(span.parentSpanId, push.parent);
      assert.equal(span.name, 'PUT /v2/{name}/manifests/{reference}');
      assert.equal(span.status, STATUS.unset);
      assert.deepEqual(
        { ...span.attributes, 'client.address': undefined, 'user_agent.original': undefined, 'http.request.size': undefined, 'http.response.size': undefined },
        {
          'http.request.method': 'PUT',
          'url.path': '/v2/app/manifests/v1',
          'http.route': '/v2/{name}/manifests/{reference}',
          'registry.repository': 'app',
          'registry.reference': 'v1',
          'http.response.status_code': 201,
          'http.request.body.size': push.manifest.length,
          'http.response.body.size': 0,
          'network.protocol.version': '1.1',
          'client.address': undefined,
          'user_agent.original': undefined,
          'http.request.size': undefined,
          'http.response.size': undefined,
        },
      );
      assert.equal(span.attributes['client.address'], '127.0.0.1');
      assert.ok(Number(span.attributes['http.request.size']) > push.manifest.length);

      const get = requestSpan(pull.traceId);
      assert.equal(get.parentSpanId, pull.parent);
      assert.equal(get.name, 'GET /v2/{name}/manifests/{reference}');
      assert.equal(get.attributes['http.response.status_code'], 200);
      assert.equal(get.attributes['http.response.body.size'], push.manifest.length);
    });

    it('verifies the bearer token in a child span of the request', () => {
      for (const traceId of [push.traceId, pull.traceId, mirrorPull.traceId]) {
        const verify = childrenOf(requestSpan(traceId)).filter((s) => s.name === 'auth.token.verify');
        assert.equal(verify.length, 1, `token verification in trace ${traceId}`);
        assert.equal(verify[0]!.attributes['auth.token.valid'], true);
        assert.equal(verify[0]!.kind, SPAN_KIND.internal);
      }
      // The issuer's first request checks the password (bcrypt) in a child span; the second finds
      // the same credentials verified moments ago and checks nothing.
      const issued = receiver.spans.filter((s) => s.kind === SPAN_KIND.server && s.attributes['url.path'] === '/auth/token');
      assert.equal(issued.length, 2);
      assert.ok(issued.every((span) => span.parentSpanId === ''), 'no traceparent was sent: new traces');
      const checks = issued.flatMap((span) => childrenOf(span).filter((s) => s.name === 'auth.htpasswd.verify'));
      assert.equal(checks.length, 1);
      assert.equal(checks[0]!.attributes['auth.valid'], true);
    });

    it('times storage driver calls in child spans of the request', () => {
      const storage = childrenOf(requestSpan(push.traceId)).filter((s) => s.name.startsWith('storage.'));
      const puts = storage.filter((s) => s.name === 'storage.putContent');
      assert.ok(puts.length >= 2, `the manifest's data and its links are written: ${storage.map((s) => s.name).join(', ')}`);
      for (const span of storage) {
        assert.equal(span.attributes['storage.driver'], 'filesystem');
        assert.equal(span.attributes['storage.operation'], span.name.slice('storage.'.length));
        assert.match(String(span.attributes['storage.path']), /^\/docker\/registry\/v2\//);
      }
      assert.ok(puts.some((s) => String(s.attributes['storage.path']).endsWith(`/blobs/sha256/${sha256(push.manifest).slice(7, 9)}/${sha256(push.manifest).slice(7)}/data`)));
      // "Not found" is an answer (the manifest is new), not a failure.
      assert.ok(storage.every((s) => s.status !== STATUS.error));
    });

    it('sends redis commands in client spans of the request that caused them', () => {
      const commands = receiver.spans.filter((s) => s.name.startsWith('redis '));
      assert.ok(commands.length > 0, 'blob descriptors are kept in redis');
      for (const span of commands) {
        assert.equal(span.kind, SPAN_KIND.client);
        assert.equal(span.attributes['db.system.name'], 'redis');
        assert.equal(span.name, `redis ${span.attributes['db.operation.name']}`);
        const parent = receiver.spans.find((s) => s.traceId === span.traceId && s.spanId === span.parentSpanId);
        assert.ok(parent, `${span.name} has its parent in the trace`);
      }
      const pushTrace = inTrace(push.traceId).filter((s) => s.name.startsWith('redis '));
      assert.ok(pushTrace.length > 0, `the push's trace has redis commands: ${inTrace(push.traceId).map((s) => s.name).join(', ')}`);
    });

    it('follows a mirrored pull upstream in client spans, passing the trace on', () => {
      const request = requestSpan(mirrorPull.traceId);
      assert.equal(request.parentSpanId, mirrorPull.parent);
      assert.equal(request.attributes['registry.repository'], 'mirror/lib/app');
      assert.equal(request.attributes['http.response.status_code'], 200);
      const calls = childrenOf(request).filter((s) => s.name.startsWith('upstream '));
      assert.ok(calls.length >= 1, `upstream calls: ${inTrace(mirrorPull.traceId).map((s) => s.name).join(', ')}`);
      for (const span of calls) {
        assert.equal(span.kind, SPAN_KIND.client);
        assert.equal(span.attributes['berth.upstream'], 'mirror');
        assert.equal(span.attributes['server.address'], '127.0.0.1');
        assert.equal(span.attributes['url.full'], `${front.url}/v2/lib/app/manifests/${String(span.attributes['url.full']).split('/').pop()}`);
        assert.equal(span.name, `upstream ${span.attributes['http.request.method']}`);
        assert.equal(span.attributes['http.response.status_code'], 200);
      }
      assert.ok(calls.some((s) => String(s.attributes['url.full']).endsWith('/manifests/v1')));
      // Each upstream request carried the trace on, with its own span as the parent.
      const sent = front.requests.filter((r) => r.path.startsWith('/v2/lib/app/manifests/'));
      assert.equal(sent.length, calls.length);
      assert.deepEqual(new Set(sent.map((r) => r.traceparent)), new Set(calls.map((s) => traceparent(s.traceId, s.spanId))));
      // Fetched once, stored locally: the storage writes are in the same trace.
      assert.ok(inTrace(mirrorPull.traceId).some((s) => s.name === 'storage.putContent'));
    });

    it("writes the trace id on the request's log lines", () => {
      const lines = readFileSync(berth.logPath, 'utf8')
        .split('\n')
        .filter((l) => l.startsWith('{'))
        .map((l) => JSON.parse(l) as Record<string, unknown>);
      const access = lines.find((l) => l.msg === 'request' && l.method === 'PUT' && l.url === '/v2/app/manifests/v1');
      assert.ok(access, 'the access line of the manifest PUT');
      assert.equal(access.trace_id, push.traceId);
      assert.equal(access.span_id, requestSpan(push.traceId).spanId);
    });
  });
}

describe('tracing off', () => {
  it('loads no OpenTelemetry package and sends nothing, even for a request with a traceparent', async () => {
    const tmp = tempDir('tracing-off');
    const receiver = await OtlpReceiver.start();
    const berth = await startRegistry({ kind: 'berth', root: `${tmp.dir}/root`, stateDir: tmp.dir, env: moduleLog(`${tmp.dir}/modules.log`) });
    try {
      const r = await fetch(`${berth.url}/v2/`, { headers: { traceparent: traceparent(randomHex(16), randomHex(8)) } });
      assert.equal(r.status, 200);
      await r.arrayBuffer();
    } finally {
      await berth.stop();
      await receiver.close();
    }
    assert.deepEqual([...loadedPackages(`${tmp.dir}/modules.log`)], []);
    assert.equal(receiver.spans.length, 0);
    tmp.cleanup();
  });
});

describe('tracing settings', () => {
  it('is on for an OTLP endpoint or a traces exporter, off for none, OTEL_SDK_DISABLED or nothing', () => {
    assert.equal(tracingRequested({}), false);
    assert.equal(tracingRequested({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318' }), true);
    assert.equal(tracingRequested({ OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: 'http://collector:4318/v1/traces' }), true);
    assert.equal(tracingRequested({ OTEL_TRACES_EXPORTER: 'otlp' }), true);
    assert.equal(tracingRequested({ OTEL_TRACES_EXPORTER: 'none', OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318' }), false);
    assert.equal(tracingRequested({ OTEL_SDK_DISABLED: 'true', OTEL_TRACES_EXPORTER: 'otlp' }), false);
  });

  it('refuses at start a protocol or exporter it does not offer, naming the variable', async () => {
    const logger = pino({ level: 'silent' });
    await assert.rejects(startTracing(logger, { OTEL_EXPORTER_OTLP_ENDPOINT: 'http://127.0.0.1:4318', OTEL_EXPORTER_OTLP_PROTOCOL: 'grpc' }), /OTEL_EXPORTER_OTLP_PROTOCOL: "grpc" is not supported.*http\/protobuf.*http\/json/);
    await assert.rejects(startTracing(logger, { OTEL_TRACES_EXPORTER: 'zipkin' }), /OTEL_TRACES_EXPORTER: "zipkin" is not supported/);
    assert.equal(tracer, undefined);
  });
});
