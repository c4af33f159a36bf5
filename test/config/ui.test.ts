import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ConfigError, parseConfig } from '../../src/config/load.js';

const DRIVERS = { drivers: ['filesystem', 'inmemory'], cwd: '/srv/berth' };
const BASE = 'version: 0.1\nstorage:\n  inmemory:\n';

test('berth.ui: on by default, titled Berth', () => {
  const { config } = parseConfig(BASE, {}, DRIVERS);
  assert.deepEqual(config.ui, { enabled: true, title: 'Berth' });
});

test('berth.ui: enabled and title from the file', () => {
  const { config } = parseConfig(`${BASE}berth:\n  ui:\n    enabled: false\n    title: Acme registry\n`, {}, DRIVERS);
  assert.deepEqual(config.ui, { enabled: false, title: 'Acme registry' });
});

test('berth.ui: REGISTRY_BERTH_UI_* overrides the file', () => {
  const { config } = parseConfig(`${BASE}berth:\n  ui:\n    title: From file\n`, { REGISTRY_BERTH_UI_ENABLED: 'false', REGISTRY_BERTH_UI_TITLE: 'From env' }, DRIVERS);
  assert.deepEqual(config.ui, { enabled: false, title: 'From env' });
});

test('berth.ui: a bad value names the key', () => {
  assert.throws(() => parseConfig(`${BASE}berth:\n  ui:\n    enabled: sometimes\n`, {}, DRIVERS), (e: unknown) => e instanceof ConfigError && /^berth\.ui\.enabled: expected true or false/.test(e.message));
  assert.throws(() => parseConfig(`${BASE}berth:\n  ui:\n    title: ''\n`, {}, DRIVERS), (e: unknown) => e instanceof ConfigError && /^berth\.ui\.title: /.test(e.message));
  assert.throws(() => parseConfig(`${BASE}berth:\n  ui: [a]\n`, {}, DRIVERS), (e: unknown) => e instanceof ConfigError && /^berth\.ui: expected a map/.test(e.message));
});
