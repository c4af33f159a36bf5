import assert from 'node:assert/strict';
import { test } from 'node:test';
import { durationToMs, parseGoDuration } from '../../src/config/duration.js';
import { parseConfig } from '../../src/config/load.js';

test('Go duration strings', () => {
  assert.equal(durationToMs('168h'), 168 * 3600_000);
  assert.equal(durationToMs('1h30m'), 90 * 60_000);
  assert.equal(durationToMs('300ms'), 300);
  assert.equal(durationToMs('10s'), 10_000);
  assert.equal(durationToMs('1.5h'), 90 * 60_000);
  assert.equal(durationToMs('.5s'), 500);
  assert.equal(durationToMs('0'), 0);
  assert.equal(durationToMs('2us'), 0.002);
  assert.equal(durationToMs('2µs'), 0.002);
  assert.equal(parseGoDuration('-1m'), -60e9);
  assert.equal(parseGoDuration('1h2m3s4ms5us6ns'), 3723004005006);
});

test('invalid Go durations', () => {
  for (const text of ['', 'abc', '10', '1x', 'h', '.s', '1h 30m', '1.2.3s', '--1s']) {
    assert.equal(parseGoDuration(text), undefined, text);
  }
});

test('bare YAML integers are nanoseconds, as go-yaml decodes time.Duration', () => {
  assert.equal(durationToMs(5_000_000_000), 5000);
  const { config } = parseConfig('version: 0.1\nstorage: inmemory\nhttp:\n  draintimeout: 2000000000\n', {});
  assert.equal(config.http.drainTimeoutMs, 2000);
});

test('duration settings in the file', () => {
  const { config } = parseConfig(
    [
      'version: 0.1',
      'storage:',
      '  inmemory:',
      '  maintenance:',
      '    uploadpurging:',
      '      enabled: true',
      '      age: 1h30m',
      '      interval: 90s',
      '      dryrun: true',
      'http:',
      '  draintimeout: 1.5s',
    ].join('\n'),
    {},
  );
  assert.deepEqual(config.storage.maintenance.uploadpurging, { enabled: true, ageMs: 5_400_000, intervalMs: 90_000, dryrun: true });
  assert.equal(config.http.drainTimeoutMs, 1500);
});
