// The driver base wrapper with tracing on: each driver operation a request causes is a child span
// of the request's, named after the operation and carrying the driver, operation and path; a
// writer's writes make no span each; "path not found" is an answer, not a failed span. The spans
// go to a real OTLP endpoint (test/tracing/otlp-receiver.ts) through the tracer `berth serve`
// starts; end to end through a server: test/tracing/otlp.test.ts.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { pino } from 'pino';
import { wrapDriver } from '../../src/storage/driver/base.js';
import { PathNotFoundError, StorageDriverError } from '../../src/storage/driver/errors.js';
import { InMemoryDriver } from '../../src/storage/driver/inmemory.js';
import { startTracing, tracer } from '../../src/tracing/index.js';
import { OtlpReceiver, STATUS } from '../tracing/otlp-receiver.js';

describe('driver operations traced', () => {
  let receiver: OtlpReceiver;
  before(async () => {
    receiver = await OtlpReceiver.start();
  });
  after(() => receiver.close());

  it('makes a span of each operation a request causes, failed only when storage failed', async () => {
    // The SDK reads its exporter's settings from the process's environment, as in `berth serve`.
    Object.assign(process.env, { OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url, OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json', OTEL_SERVICE_NAME: 'driver-test' });
    const release = await startTracing(pino({ level: 'silent' }), process.env);
    const t = tracer;
    assert.ok(release && t, 'tracing started');
    const driver = wrapDriver(new (class extends InMemoryDriver {
      override async list(): Promise<string[]> {
        throw new Error('listing failed');
      }
    })());
    const request = t.startRequestSpan('PUT /v2/app/blobs/x', {}, {});
    await t.withSpan(request, async () => {
      await driver.putContent('/t/a', Buffer.from('a'));
      const w = await driver.writer('/t/b');
      await w.write(Buffer.from('one'));
      await w.write(Buffer.from('two'));
      await w.commit();
      await assert.rejects(driver.getContent('/t/none'), PathNotFoundError);
      await assert.rejects(driver.list('/t'), StorageDriverError);
    });
    request.end();
    // Outside any request (garbage collection, warm-up) no span is made.
    await driver.getContent('/t/a');
    await release();

    const children = receiver.spans.filter((s) => s.parentSpanId === request.spanId);
    assert.deepEqual(
      children.map((s) => `${s.name} ${s.attributes['storage.path']} ${s.status === STATUS.error ? 'failed' : 'ok'}`).sort(),
      ['storage.getContent /t/none ok', 'storage.list /t failed', 'storage.putContent /t/a ok', 'storage.writer /t/b ok', 'storage.writer.commit /t/b ok'],
    );
    for (const s of children) {
      assert.equal(s.attributes['storage.driver'], 'inmemory');
      assert.equal(s.attributes['storage.operation'], s.name.slice('storage.'.length));
    }
    assert.equal(receiver.spans.filter((s) => s.name.startsWith('storage.')).length, children.length, 'no span without a request');
  });
});
