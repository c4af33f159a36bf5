// The mirror's configuration: Distribution's proxy section (and its REGISTRY_PROXY_* overrides),
// berth.proxy upstreams, and one-line errors naming the key.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ConfigError, parseConfig } from '../../src/config/load.js';

const base = 'version: 0.1\nstorage:\n  inmemory: {}\n';

test('proxy: Distribution keys, defaults, ttl 0 never expires, REGISTRY_PROXY_* overrides', () => {
  const { config, warnings } = parseConfig(`${base}proxy:\n  remoteurl: https://registry-1.docker.io/\n`, {});
  assert.deepEqual(config.proxy, { upstreams: [{ prefix: '', remoteurl: 'https://registry-1.docker.io', ttlMs: 168 * 3600_000, timeoutMs: 10_000, idleTimeoutMs: 30_000 }] });
  assert.deepEqual(warnings, []);
  const env = { REGISTRY_PROXY_REMOTEURL: 'http://10.0.0.1:5000', REGISTRY_PROXY_USERNAME: 'u', REGISTRY_PROXY_PASSWORD: 'p', REGISTRY_PROXY_TTL: '0' };
  const u = parseConfig(base, env).config.proxy!.upstreams[0]!;
  assert.deepEqual(u, { prefix: '', remoteurl: 'http://10.0.0.1:5000', username: 'u', password: 'p', ttlMs: 0, timeoutMs: 10_000, idleTimeoutMs: 30_000 });
  assert.equal(parseConfig(`${base}proxy: {}\n`, {}).config.proxy, undefined, 'no remoteurl, no mirror');
  const ns = parseConfig(`${base}proxy:\n  remoteurl: https://x.example\n  remotenamespace: /superhero/\n`, {}).config.proxy!.upstreams[0]!;
  assert.equal(ns.remotenamespace, 'superhero');
  assert.equal(parseConfig(base, { REGISTRY_PROXY_REMOTEURL: 'https://x.example', REGISTRY_PROXY_REMOTENAMESPACE: 'team/a' }).config.proxy!.upstreams[0]!.remotenamespace, 'team/a');
});

test('berth.proxy: upstreams sorted longest prefix first, timeouts inherited or overridden', () => {
  const yaml = `${base}berth:\n  proxy:\n    timeout: 2s\n    upstreams:\n      - prefix: hub\n        remoteurl: https://a.example\n      - prefix: hub/team\n        remoteurl: https://b.example\n        idletimeout: 5s\n        ttl: 1h\n`;
  const { upstreams } = parseConfig(yaml, {}).config.proxy!;
  assert.deepEqual(upstreams.map((u) => [u.prefix, u.timeoutMs, u.idleTimeoutMs, u.ttlMs]), [
    ['hub/team', 2000, 5000, 3600_000],
    ['hub', 2000, 30_000, 168 * 3600_000],
  ]);
});

test('mistakes stop the start with one line naming the key', () => {
  const cases: [string, RegExp][] = [
    ['proxy:\n  remoteurl: ftp://x\n', /^proxy\.remoteurl: expected an http or https URL/],
    ['proxy:\n  remoteurl: https://x\n  username: u\n', /^proxy: username and password must be given together/],
    ['proxy:\n  remoteurl: https://x\n  ttl: soon\n', /^proxy\.ttl: invalid duration/],
    ['berth:\n  proxy:\n    upstreams:\n      - remoteurl: https://x\n', /^berth\.proxy\.upstreams\[0\]\.prefix: required/],
    ['berth:\n  proxy:\n    upstreams:\n      - prefix: Hub\n        remoteurl: https://x\n', /^berth\.proxy\.upstreams\[0\]\.prefix: "Hub" is not a valid/],
    ['berth:\n  proxy:\n    upstreams:\n      - prefix: a\n        remoteurl: https://x\n      - prefix: a\n        remoteurl: https://y\n', /prefix "a" is configured twice/],
    ['proxy:\n  remoteurl: https://x\nberth:\n  proxy:\n    upstreams:\n      - default: true\n        remoteurl: https://y\n', /only one default upstream/],
    ['berth:\n  proxy:\n    timeout: 0s\n    upstreams: []\n', /^berth\.proxy\.timeout: must be greater than 0/],
    ['proxy:\n  remoteurl: https://x\n  remotenamespace: Super/Hero\n', /^proxy\.remotenamespace: "Super\/Hero" is not a valid repository name prefix/],
  ];
  for (const [extra, message] of cases) {
    assert.throws(() => parseConfig(base + extra, {}), (err: unknown) => err instanceof ConfigError && message.test(err.message), extra);
  }
});
