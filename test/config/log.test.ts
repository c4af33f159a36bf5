import assert from 'node:assert/strict';
import { closeSync, constants, mkdtempSync, openSync, readFileSync, readSync, rmSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { Writable } from 'node:stream';
import { test } from 'node:test';
import type { LogConfig } from '../../src/config/types.js';
import { accessLogger, bufferedDestination, createLogger } from '../../src/log.js';

function sink(): { stream: Writable & { write(chunk: string): boolean }; lines: () => string[] } {
  const chunks: string[] = [];
  const stream = new Writable({
    write(chunk: Buffer | string, _enc, done) {
      chunks.push(chunk.toString());
      done();
    },
  });
  return { stream, lines: () => chunks.join('').split('\n').filter(Boolean) };
}

const base: LogConfig = { level: 'info', formatter: 'json', fields: { service: 'registry' }, accesslog: { disabled: false } };

test('json lines carry the configured fields and respect the level', () => {
  const out = sink();
  const logger = createLogger(base, out.stream);
  logger.debug('hidden');
  logger.info({ repo: 'a/b' }, 'pushed');
  const lines = out.lines().map((line) => JSON.parse(line) as Record<string, unknown>);
  assert.equal(lines.length, 1);
  assert.equal(lines[0]?.msg, 'pushed');
  assert.equal(lines[0]?.service, 'registry');
  assert.equal(lines[0]?.repo, 'a/b');
});

test('secrets are never written', () => {
  const out = sink();
  const logger = createLogger({ ...base, level: 'debug' }, out.stream);
  logger.info({ http: { secret: 's3cr3t', addr: ':5000' } }, 'config');
  logger.info({ req: { headers: { authorization: 'Basic c2VjcmV0', accept: '*/*' } } }, 'request');
  logger.info({ redis: { password: 'hunter2' } }, 'redis');
  const text = out.lines().join('\n');
  for (const secret of ['s3cr3t', 'c2VjcmV0', 'hunter2']) assert.ok(!text.includes(secret), secret);
  assert.ok(text.includes(':5000'));
  assert.ok(text.includes('[redacted]'));
});

test('text output is logrus-style key=value lines, as Distribution writes them', () => {
  const out = sink();
  const logger = createLogger({ ...base, formatter: 'text', level: 'warn' }, out.stream);
  logger.info('hidden');
  logger.warn({ http: { secret: 'topsecret' }, url: 'http://127.0.0.1:5000/v2/' }, 'something odd');
  logger.error({ err: new Error('boom') }, 'failed');
  const lines = out.lines();
  assert.equal(lines.length, 2);
  assert.match(lines[0] ?? '', /^time="\d{4}-\d\d-\d\dT[\d:.]+Z" level=warning msg="something odd" service=registry http=".*" url=http:\/\/127\.0\.0\.1:5000\/v2\/$/);
  assert.ok(!lines.join('\n').includes('topsecret'));
  assert.match(lines[1] ?? '', /level=error msg=failed service=registry err=boom stack="Error: boom\\n/);
});

test('access lines: the same fields in either format, and nothing when info is off', () => {
  const fields = { reqId: 'r-1', method: 'GET', url: '/v2/a b/manifests/v1', status: 200, ms: 0.4, remote: '127.0.0.1' };
  const json = sink();
  accessLogger(createLogger(base, json.stream)).write(fields);
  assert.deepEqual({ ...JSON.parse(json.lines()[0]!), time: 0 }, { level: 30, time: 0, service: 'registry', ...fields, msg: 'request' });
  const text = sink();
  accessLogger(createLogger({ ...base, formatter: 'text' }, text.stream)).write(fields);
  assert.match(text.lines()[0]!, /^time="[\d-]+T[\d:.]+Z" level=info msg=request service=registry reqId=r-1 method=GET url="\/v2\/a b\/manifests\/v1" status=200 ms=0.4 remote=127.0.0.1$/);
  assert.equal(accessLogger(createLogger({ ...base, level: 'warn' }, sink().stream)).enabled, false);
});

test('the buffered log file is written within its flush interval, and never while nothing waits', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'berth-log-'));
  const fd = openSync(join(dir, 'log'), 'w');
  const out = bufferedDestination(fd, 50);
  const writes: number[] = []; // bytes of each write call the buffer made
  out.buffer.on('write', (n: number) => writes.push(n));
  try {
    await sleep(300); // six intervals with nothing written
    assert.deepEqual(writes, [], 'an idle buffer made write calls');
    createLogger(base, out).info('pushed');
    await sleep(300);
    assert.equal(writes.length, 1, `one write for the one line, then none: ${writes.join(', ')}`);
    assert.ok(writes[0]! > 0);
    assert.match(readFileSync(join(dir, 'log'), 'utf8'), /"msg":"pushed"/);
  } finally {
    out.stop();
    closeSync(fd);
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a line held while an earlier write is still in flight is written once that write ends', async () => {
  // The destination is a pipe nobody reads yet: a write bigger than the pipe blocks in the pool
  // (as a log write queued behind bcrypt hashes does), and the flush timer fires meanwhile.
  const dir = mkdtempSync(join(tmpdir(), 'berth-log-'));
  const fifo = join(dir, 'pipe');
  execFileSync('mkfifo', [fifo]);
  const reader = openSync(fifo, constants.O_RDONLY | constants.O_NONBLOCK);
  const fd = openSync(fifo, 'w');
  const out = bufferedDestination(fd, 20);
  let received = '';
  const readAll = (): void => {
    const chunk = Buffer.alloc(1 << 16);
    for (;;) {
      let n = 0;
      try {
        n = readSync(reader, chunk);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'EAGAIN') return;
        throw err;
      }
      if (n === 0) return;
      received += chunk.toString('utf8', 0, n);
    }
  };
  try {
    const logger = createLogger(base, out);
    logger.info({ filler: 'x'.repeat(200_000) }, 'bulk'); // past minLength: written at once, and stuck
    await sleep(20);
    logger.info('held'); // in the buffer while that write is in flight
    await sleep(100); // five flush intervals pass with the write still blocked
    for (let i = 0; i < 50 && !received.includes('"msg":"held"'); i++) {
      readAll();
      await sleep(20);
    }
    assert.ok(received.includes('"msg":"bulk"'), 'the bulk line arrived');
    assert.ok(received.includes('"msg":"held"'), 'the held line never arrived');
  } finally {
    readAll();
    out.stop();
    closeSync(fd);
    closeSync(reader);
    rmSync(dir, { recursive: true, force: true });
  }
});
