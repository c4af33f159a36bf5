import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startBerth } from '../notifications/harness.js';
import { requestLog, createLogger } from '../../src/log.js';

test('request ids: a sane X-Request-Id is kept, anything else replaced; every line of the request carries it', async (t) => {
  const berth = await startBerth(`
storage:
  inmemory: {}
http:
  addr: 127.0.0.1:0
`);
  t.after(() => berth.close());

  let r = await fetch(`${berth.url}/v2/`, { headers: { 'x-request-id': 'lb-1234.abc' } });
  assert.equal(r.headers.get('x-request-id'), 'lb-1234.abc');
  r = await fetch(`${berth.url}/v2/`, { headers: { 'x-request-id': 'bad id with spaces' } });
  const generated = r.headers.get('x-request-id')!;
  assert.match(generated, /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
  r = await fetch(`${berth.url}/v2/`, { headers: { 'x-request-id': 'x'.repeat(200) } });
  assert.notEqual(r.headers.get('x-request-id'), 'x'.repeat(200));
  r = await fetch(`${berth.url}/v2/a/manifests/latest`, { headers: { 'x-request-id': 'req-missing' } });
  assert.equal(r.status, 404);
  assert.equal(r.headers.get('x-request-id'), 'req-missing');

  const access = berth.logs.filter((l) => l.msg === 'request');
  assert.deepEqual(
    access.map((l) => l.reqId),
    ['lb-1234.abc', generated, access[2]!.reqId, 'req-missing'],
  );
  assert.equal(access[3]!.status, 404);
  assert.equal(access[3]!.url, '/v2/a/manifests/latest');
  assert.ok(!JSON.stringify(berth.logs).includes('bad id with spaces'));

  // requestLog binds the id recorded on the raw request for code that only sees IncomingMessage.
  const lines: string[] = [];
  const log = createLogger({ level: 'info', formatter: 'json', fields: {}, accesslog: { disabled: false } }, { write: (l: string) => void lines.push(l) });
  const req = { [Symbol.for('berth.requestId')]: 'abc' };
  requestLog(log, req).info('hello');
  requestLog(log, {}).info('plain');
  assert.equal(JSON.parse(lines[0]!).reqId, 'abc');
  assert.equal(JSON.parse(lines[1]!).reqId, undefined);
});

test('log.accesslog.disabled: no access lines', async (t) => {
  const berth = await startBerth(`
log:
  accesslog:
    disabled: true
storage:
  inmemory: {}
http:
  addr: 127.0.0.1:0
`);
  t.after(() => berth.close());
  const r = await fetch(`${berth.url}/v2/`);
  assert.equal(r.status, 200);
  assert.equal(berth.logs.filter((l) => l.msg === 'request').length, 0);
});
