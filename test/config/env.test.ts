import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ConfigError, parseConfig } from '../../src/config/load.js';

const OPTS = { drivers: ['filesystem', 'inmemory', 's3'], cwd: '/srv' };
const BASE = 'version: 0.1\nstorage:\n  filesystem:\n    rootdirectory: /var/lib/registry\n  delete:\n    enabled: false\nhttp:\n  addr: :5000\n  headers:\n    X-Content-Type-Options: [nosniff]\n';

test('string, boolean and duration settings', () => {
  const { config, warnings } = parseConfig(BASE, {
    REGISTRY_HTTP_ADDR: '127.0.0.1:7000',
    REGISTRY_HTTP_SECRET: '0123',
    REGISTRY_HTTP_DRAINTIMEOUT: '45s',
    REGISTRY_STORAGE_DELETE_ENABLED: 'true',
    REGISTRY_LOG_LEVEL: 'debug',
    REGISTRY_LOG_ACCESSLOG_DISABLED: 'yes',
    REGISTRY_STORAGE_MAINTENANCE_UPLOADPURGING_ENABLED: 'false',
    REGISTRY_CATALOG_MAXENTRIES: '250',
  }, OPTS);
  assert.deepEqual(warnings, []);
  assert.equal(config.http.addr, '127.0.0.1:7000');
  assert.equal(config.http.secret, '0123');
  assert.equal(config.http.drainTimeoutMs, 45_000);
  assert.equal(config.storage.delete.enabled, true);
  assert.equal(config.log.level, 'debug');
  assert.equal(config.log.accesslog.disabled, true);
  assert.equal(config.storage.maintenance.uploadpurging.enabled, false);
  assert.equal(config.catalog.maxEntries, 250);
  assert.equal(parseConfig(BASE, {}, OPTS).config.catalog.maxEntries, 1000, 'the default bound');
});

test('driver parameters, maps and lists', () => {
  const { config } = parseConfig(BASE, {
    REGISTRY_STORAGE_FILESYSTEM_ROOTDIRECTORY: '/somewhere',
    REGISTRY_STORAGE_FILESYSTEM_MAXTHREADS: '50',
    REGISTRY_LOG_FIELDS_SERVICE: 'registry',
    'REGISTRY_HTTP_HEADERS_X-CONTENT-TYPE-OPTIONS': '[nosniff, other]',
    'REGISTRY_HTTP_HEADERS_X-FRAME-OPTIONS': '[DENY]',
    REGISTRY_VALIDATION_MANIFESTS_URLS_ALLOW_0: '^https://a/',
    REGISTRY_VALIDATION_MANIFESTS_URLS_ALLOW_1: '^https://b/',
    REGISTRY_HTTP_TLS_CERTIFICATE: '/c.pem',
    REGISTRY_HTTP_TLS_KEY: '/k.pem',
    REGISTRY_HTTP_TLS_CLIENTCAS_0: '/ca.pem',
    REGISTRY_REDIS_ADDR: 'localhost:6379',
  }, OPTS);
  assert.deepEqual(config.storage.parameters, { rootdirectory: '/somewhere', maxthreads: 50 });
  assert.deepEqual(config.log.fields, { service: 'registry' });
  assert.deepEqual(config.http.headers, { 'x-content-type-options': ['nosniff', 'other'], 'x-frame-options': ['DENY'] });
  assert.deepEqual(config.validation.manifests.urls.allow, ['^https://a/', '^https://b/']);
  assert.deepEqual(config.http.tls, { certificate: '/c.pem', key: '/k.pem', clientcas: ['/ca.pem'] });
  assert.deepEqual(config.redis, { addr: 'localhost:6379' });
});

test('REGISTRY_STORAGE selects a driver, with parameters from the environment', () => {
  const { config } = parseConfig(BASE, { REGISTRY_STORAGE: 's3', REGISTRY_STORAGE_S3_REGION: 'us-east-1', REGISTRY_STORAGE_S3_SECURE: 'true' }, OPTS);
  assert.equal(config.storage.driver, 's3');
  assert.deepEqual(config.storage.parameters, { region: 'us-east-1', secure: true });
  // Settings beside the driver survive (see the note in src/config/env.ts).
  assert.equal(config.storage.delete.enabled, false);
  const inmemory = parseConfig(BASE, { REGISTRY_STORAGE: 'inmemory', REGISTRY_STORAGE_DELETE_ENABLED: 'true' }, OPTS).config;
  assert.equal(inmemory.storage.driver, 'inmemory');
  assert.equal(inmemory.storage.delete.enabled, true);
});

test('an override for a driver other than the configured one is a second driver', () => {
  assert.throws(() => parseConfig(BASE, { REGISTRY_STORAGE_S3_REGION: 'us-east-1' }, OPTS), {
    message: 'storage: multiple storage drivers configured (filesystem, s3); configure exactly one',
  });
});

test('the environment applies to shorthand storage and to an empty file section', () => {
  const { config } = parseConfig('version: 0.1\nstorage: inmemory\nhttp:\n', { REGISTRY_HTTP_PREFIX: '/r/', REGISTRY_STORAGE_TAG_CONCURRENCYLIMIT: '4' }, OPTS);
  assert.equal(config.storage.driver, 'inmemory');
  assert.equal(config.http.prefix, '/r');
  assert.equal(config.storage.tag?.concurrencylimit, 4);
});

test('variables that name no setting are warnings; lower-case names do not match', () => {
  const { config, warnings } = parseConfig(BASE, {
    REGISTRY_PORT: 'tcp://10.0.0.1:5000',
    REGISTRY_HTTP_NOPE: 'x',
    REGISTRY_http_addr: ':1',
    REGISTRY_CONFIGURATION_PATH: '/etc/x.yml',
    PATH: '/bin',
  }, OPTS);
  assert.equal(config.http.addr, ':5000');
  assert.deepEqual(warnings, [
    'environment variable REGISTRY_HTTP_NOPE: names no configuration setting and is ignored',
    'environment variable REGISTRY_PORT: names no configuration setting and is ignored',
    'environment variable REGISTRY_http_addr: names no configuration setting and is ignored',
  ]);
});

test('bad values name the key and the variable', () => {
  const cases: [NodeJS.ProcessEnv, string][] = [
    [{ REGISTRY_STORAGE_DELETE_ENABLED: 'maybe' }, 'storage.delete.enabled: invalid boolean "maybe" (expected true or false) (set by REGISTRY_STORAGE_DELETE_ENABLED)'],
    [{ REGISTRY_HTTP_DRAINTIMEOUT: 'soon' }, 'http.draintimeout: invalid duration "soon" (set by REGISTRY_HTTP_DRAINTIMEOUT)'],
    [{ REGISTRY_STORAGE: 'foo' }, 'storage: unknown driver "foo" (known: filesystem, inmemory, s3)'],
    [{ REGISTRY_VALIDATION_MANIFESTS_URLS_ALLOW_X: 'a' }, 'environment variable REGISTRY_VALIDATION_MANIFESTS_URLS_ALLOW_X: non-numeric list index "X"'],
    [{ REGISTRY_VALIDATION_MANIFESTS_URLS_ALLOW_3: 'a' }, 'environment variable REGISTRY_VALIDATION_MANIFESTS_URLS_ALLOW_3: list index 3 is past the end (the list has 0 items)'],
    [{ REGISTRY_HTTP_ADDR: '[unclosed' }, 'environment variable REGISTRY_HTTP_ADDR: invalid YAML value: Flow sequence must end with a ] at line 1, column 10'],
  ];
  for (const [env, message] of cases) {
    assert.throws(() => parseConfig(BASE, env, OPTS), (e: unknown) => e instanceof ConfigError && e.message === message, message);
  }
});

test('variables apply in lexical order, the more general first', () => {
  const { config } = parseConfig(BASE, { REGISTRY_LOG_FIELDS_A: '1', REGISTRY_LOG_FIELDS: '{a: 0, b: 2}' }, OPTS);
  assert.deepEqual(config.log.fields, { a: 1, b: 2 });
});
