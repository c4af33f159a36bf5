import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Receiver, parseMetrics, pushImage, series, startBerth, waitFor } from './harness.js';

function config(receiver: Receiver, endpoint: string, extra: string): string {
  return `
storage:
  inmemory: {}
http:
  addr: 127.0.0.1:0
  debug:
    addr: 127.0.0.1:0
    prometheus:
      enabled: true
notifications:
  endpoints:
    - name: ${endpoint}
      url: ${receiver.url}
${extra}`;
}

async function scrape(debugUrl: string): Promise<Map<string, number>> {
  const r = await fetch(`${debugUrl}/metrics`);
  assert.equal(r.status, 200);
  return parseMetrics(await r.text());
}

test('a failing, then hanging endpoint gets every event, in order, once it recovers; requests never wait for it', async (t) => {
  const receiver = await Receiver.start();
  receiver.mode = 'fail';
  const berth = await startBerth(config(receiver, 'flaky', '      timeout: 200ms\n      threshold: 2\n      backoff: 100ms'));
  t.after(async () => {
    await berth.close();
    await receiver.close();
  });

  const image = await pushImage(berth.url, 'flaky/app', 'v1');
  await waitFor('failed deliveries', () => (receiver.refused >= 4 ? true : undefined));

  // While the endpoint hangs, the registry answers as usual.
  receiver.mode = 'hang';
  const before = receiver.refused;
  await waitFor('a hanging delivery', () => (receiver.refused > before ? true : undefined));
  for (let i = 0; i < 3; i++) {
    const r = await fetch(`${berth.url}/v2/flaky/app/manifests/v1`);
    assert.equal(r.status, 200);
    await r.arrayBuffer();
  }
  const pending = series(await scrape(berth.debugUrl!), 'registry_notifications_pending', { endpoint: 'flaky' });
  assert.equal(pending, 6);

  receiver.mode = 'ok';
  // Delivery is at least once, as Distribution's: an answer slower than the 200 ms timeout (a
  // loaded machine) is sent again under the same id. Each event counts once, in order of first arrival.
  const once = (): Record<string, any>[] => [...new Map(receiver.events.map((e) => [e.id as string, e])).values()];
  const events = await waitFor('6 events', () => (once().length >= 6 ? once() : undefined));
  for (const e of receiver.events) assert.deepEqual(e, events.find((x) => x.id === e.id), 'a repeated event is the same event');
  assert.deepEqual(
    events.map((e) => [e.action, e.target.digest]),
    [
      ['push', image.config],
      ['push', image.layer],
      ['push', image.manifest],
      ['pull', image.manifest],
      ['pull', image.manifest],
      ['pull', image.manifest],
    ],
  );
  assert.equal(events.length, 6, 'no event beyond the six');

  const metrics = await waitFor('queue drained', async () => {
    const m = await scrape(berth.debugUrl!);
    return series(m, 'registry_notifications_pending', { endpoint: 'flaky' }) === 0 ? m : undefined;
  });
  assert.equal(series(metrics, 'registry_notifications_events_total', { type: 'Events', endpoint: 'flaky' }), 6);
  assert.equal(series(metrics, 'registry_notifications_events_total', { type: 'Successes', endpoint: 'flaky' }), 6);
  assert.ok(series(metrics, 'registry_notifications_events_total', { type: 'Failures', endpoint: 'flaky' })! >= 4);
  assert.ok(series(metrics, 'registry_notifications_events_total', { type: 'Errors', endpoint: 'flaky' })! >= 1);
  assert.ok(series(metrics, 'registry_notifications_status_total', { code: '500 Internal Server Error', endpoint: 'flaky' })! >= 4);
  assert.equal(series(metrics, 'registry_notifications_status_total', { code: '200 OK', endpoint: 'flaky' }), 6);

  const messages = berth.logs.filter((l) => l.endpoint === 'flaky').map((l) => l.msg);
  assert.ok(messages.includes('notification endpoint failing; retrying'));
  assert.ok(messages.includes('notification endpoint recovered'));
});

test('a full queue drops new events, counts them and says so in the log', async (t) => {
  const receiver = await Receiver.start();
  receiver.mode = 'hang';
  const berth = await startBerth(config(receiver, 'tiny', '      timeout: 300ms\n      threshold: 1\n      backoff: 50ms\n      queuesize: 2'));
  t.after(async () => {
    await berth.close();
    await receiver.close();
  });

  // Three pushes, then two pulls: the first two events wait in the queue, the other three are dropped.
  const image = await pushImage(berth.url, 'tiny/app', 'v1');
  for (let i = 0; i < 2; i++) {
    const r = await fetch(`${berth.url}/v2/tiny/app/blobs/${image.layer}`, { method: 'HEAD' });
    assert.equal(r.status, 200);
  }
  const metrics = await scrape(berth.debugUrl!);
  assert.equal(series(metrics, 'registry_notifications_events_total', { type: 'Dropped', endpoint: 'tiny' }), 3);
  assert.equal(series(metrics, 'registry_notifications_pending', { endpoint: 'tiny' }), 2);
  const line = berth.logs.find((l) => l.msg === 'notification events dropped' && l.endpoint === 'tiny');
  assert.ok(line, 'a log line names the endpoint that dropped events');
  assert.equal(line.level, 40);

  receiver.mode = 'ok';
  const events = await waitFor('the queued events', () => (receiver.events.length >= 2 ? receiver.events : undefined));
  assert.deepEqual(
    events.map((e) => e.target.digest),
    [image.config, image.layer],
  );
});
