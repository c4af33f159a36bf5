import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { ConfigError, defaultConfigText, loadConfigFile, parseConfig } from '../../src/config/load.js';

const DRIVERS = { drivers: ['filesystem', 'inmemory', 's3'], cwd: '/srv/berth' };

// A configuration touching every section Distribution documents (one driver only).
const FULL = `
version: 0.1
log:
  accesslog:
    disabled: true
  level: debug
  formatter: json
  fields:
    service: registry
    environment: staging
storage:
  filesystem:
    rootdirectory: /var/lib/registry
    maxthreads: 100
  tag:
    concurrencylimit: 8
  delete:
    enabled: true
  redirect:
    disable: true
  cache:
    blobdescriptor: inmemory
    blobdescriptorsize: 5000
  maintenance:
    uploadpurging:
      enabled: true
      age: 72h
      interval: 12h
      dryrun: false
    readonly:
      enabled: false
auth:
  htpasswd:
    realm: basic-realm
    path: /path/to/htpasswd
middleware:
  registry:
    - name: ARegistryMiddleware
      options:
        foo: bar
http:
  addr: localhost:5000
  net: tcp
  prefix: /my/nested/registry/
  host: https://myregistryaddress.org:5000
  secret: asecretforlocaldevelopment
  relativeurls: false
  draintimeout: 60s
  tls:
    certificate: /path/to/x509/public
    key: /path/to/x509/private
    clientcas:
      - /path/to/ca.pem
      - /path/to/another/ca.pem
    clientauth: require-and-verify-client-cert
    minimumtls: tls1.2
    ciphersuites:
      - TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384
  debug:
    addr: localhost:5001
    prometheus:
      enabled: true
      path: /metrics
  headers:
    X-Content-Type-Options: [nosniff]
  http2:
    disabled: false
  h2c:
    enabled: false
notifications:
  events:
    includereferences: true
  endpoints:
    - name: alistener
      url: https://my.listener.com/event
      timeout: 1s
redis:
  addrs: [localhost:6379]
  password: asecret
  db: 0
health:
  storagedriver:
    enabled: true
    interval: 10s
    threshold: 3
proxy:
  remoteurl: https://registry-1.docker.io
  ttl: 168h
validation:
  manifests:
    urls:
      allow:
        - ^https?://([^/]+\\.)*example\\.com/
      deny:
        - ^https?://www\\.example\\.com/
    indexes:
      platforms: list
      platformlist:
      - architecture: amd64
        os: linux
`;

test('a full Distribution configuration', () => {
  const { config, warnings } = parseConfig(FULL, {}, DRIVERS);
  assert.deepEqual(config.log, {
    level: 'debug',
    formatter: 'json',
    fields: { service: 'registry', environment: 'staging' },
    accesslog: { disabled: true },
  });
  assert.deepEqual(config.storage, {
    driver: 'filesystem',
    parameters: { rootdirectory: '/var/lib/registry', maxthreads: 100 },
    delete: { enabled: true },
    redirect: { disable: true },
    cache: { blobdescriptor: 'inmemory', blobdescriptorsize: 5000 },
    maintenance: {
      uploadpurging: { enabled: true, ageMs: 72 * 3600_000, intervalMs: 12 * 3600_000, dryrun: false },
      readonly: { enabled: false },
    },
    tag: { concurrencylimit: 8 },
  });
  assert.deepEqual(config.http, {
    addr: 'localhost:5000',
    net: 'tcp',
    prefix: '/my/nested/registry',
    host: 'https://myregistryaddress.org:5000',
    secret: 'asecretforlocaldevelopment',
    relativeurls: false,
    drainTimeoutMs: 60_000,
    headers: { 'X-Content-Type-Options': ['nosniff'] },
    tls: {
      certificate: '/path/to/x509/public',
      key: '/path/to/x509/private',
      minimumtls: 'tls1.2',
      clientcas: ['/path/to/ca.pem', '/path/to/another/ca.pem'],
      ciphersuites: ['TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384'],
      clientauth: 'require-and-verify-client-cert',
    },
    debug: { addr: 'localhost:5001', prometheus: { enabled: true, path: '/metrics' } },
    http2: { disabled: false },
    h2c: { enabled: false },
  });
  assert.deepEqual(config.validation, {
    disabled: false,
    manifests: {
      urls: { allow: ['^https?://([^/]+\\.)*example\\.com/'], deny: ['^https?://www\\.example\\.com/'] },
      indexes: { platforms: 'list', platformlist: [{ architecture: 'amd64', os: 'linux' }] },
    },
  });
  assert.deepEqual(config.auth, { htpasswd: { realm: 'basic-realm', path: '/path/to/htpasswd' } });
  assert.deepEqual(config.redis, { addrs: ['localhost:6379'], password: 'asecret', db: 0 });
  assert.deepEqual(config.proxy, {
    upstreams: [{ prefix: '', remoteurl: 'https://registry-1.docker.io', ttlMs: 168 * 3600_000, timeoutMs: 10_000, idleTimeoutMs: 30_000 }],
  });
  assert.equal((config.health as { storagedriver: { threshold: number } }).storagedriver.threshold, 3);
  assert.ok(config.notifications);
  assert.deepEqual(warnings, [
    'middleware.registry[0]: registry middleware "ARegistryMiddleware" is not available in Berth and is ignored',
  ]);
});

test("Distribution's cmd/registry/config-example.yml", () => {
  const text = [
    'version: 0.1',
    'log:',
    '  fields:',
    '    service: registry',
    'storage:',
    '  cache:',
    '    blobdescriptor: inmemory',
    '  filesystem:',
    '    rootdirectory: /var/lib/registry',
    'http:',
    '  addr: :5000',
    '  headers:',
    '    X-Content-Type-Options: [nosniff]',
    'health:',
    '  storagedriver:',
    '    enabled: true',
    '    interval: 10s',
    '    threshold: 3',
  ].join('\n');
  const { config } = parseConfig(text, {}, DRIVERS);
  assert.equal(config.http.addr, ':5000');
  assert.equal(config.storage.cache.blobdescriptor, 'inmemory');
  assert.equal(config.log.level, 'info');
  assert.equal(config.log.formatter, 'text');
});

test('defaults for a minimal file match Distribution', () => {
  const { config, warnings } = parseConfig('version: 0.1\nstorage:\n  inmemory:\n', {}, DRIVERS);
  assert.deepEqual(warnings, []);
  assert.deepEqual(config.log, { level: 'info', formatter: 'text', fields: {}, accesslog: { disabled: false } });
  assert.equal(config.storage.driver, 'inmemory');
  assert.deepEqual(config.storage.parameters, {});
  assert.equal(config.storage.delete.enabled, false);
  assert.equal(config.storage.redirect.disable, false);
  assert.deepEqual(config.storage.cache, { blobdescriptorsize: 10000 });
  assert.deepEqual(config.storage.maintenance, {
    uploadpurging: { enabled: true, ageMs: 168 * 3600_000, intervalMs: 24 * 3600_000, dryrun: false },
    readonly: { enabled: false },
  });
  assert.deepEqual(config.http, { addr: ':5000', net: 'tcp', prefix: '', relativeurls: false, drainTimeoutMs: 0, headers: {} });
  assert.deepEqual(config.validation, { disabled: false, manifests: { urls: { allow: [], deny: [] }, indexes: { platforms: 'all', platformlist: [] } } });
});

test('the embedded default configuration', () => {
  const { config, warnings } = parseConfig(defaultConfigText, {}, { cwd: '/home/me/work' });
  assert.deepEqual(warnings, []);
  assert.equal(config.storage.driver, 'filesystem');
  assert.deepEqual(config.storage.parameters, { rootdirectory: '/home/me/work/data' });
  assert.equal(config.http.addr, '127.0.0.1:5000');
  assert.equal(config.storage.delete.enabled, false);
  assert.equal(config.log.level, 'info');
  assert.equal(config.log.formatter, 'text');
});

test('YAML 1.1 scalars read as Distribution reads them', () => {
  const text = 'version: "0.1"\nstorage:\n  inmemory:\n  delete:\n    enabled: yes\nhttp:\n  secret: 0123\n  relativeurls: on\n';
  const { config } = parseConfig(text, {}, DRIVERS);
  assert.equal(config.storage.delete.enabled, true);
  assert.equal(config.http.secret, '0123');
  assert.equal(config.http.relativeurls, true);
});

test('shorthand forms and normalisation', () => {
  const { config } = parseConfig('version: 0.1\nstorage: inmemory\nhttp:\n  prefix: registry/\n  host: https://r.example.com/\n', {}, DRIVERS);
  assert.equal(config.storage.driver, 'inmemory');
  assert.equal(config.http.prefix, '/registry');
  assert.equal(config.http.host, 'https://r.example.com');
  const rel = parseConfig('version: 0.1\nstorage:\n  filesystem:\n    RootDirectory: ./store\n', {}, DRIVERS).config;
  assert.deepEqual(rel.storage.parameters, { rootdirectory: '/srv/berth/store' });
  assert.equal(parseConfig('version: 0.1\nstorage: inmemory\nhttp:\n  prefix: /\n', {}, DRIVERS).config.http.prefix, '');
});

test('legacy and compatibility settings', () => {
  const text = [
    'version: 0.1',
    'loglevel: warn',
    'log:',
    '  formatter: logstash',
    'storage:',
    '  inmemory:',
    '  cache:',
    '    blobdescriptor: redis',
    'http:',
    '  tls:',
    '    letsencrypt:',
    '      cachefile: /x',
    'validation:',
    '  enabled: true',
    '  disabled: true',
    'compatibility:',
    '  schema1:',
    '    enabled: true',
    'catalog:',
    '  maxentries: 10',
    'reporting:',
    '  bugsnag:',
    '    apikey: x',
    'frobnicate: 1',
  ].join('\n');
  const { config, warnings } = parseConfig(text, {}, DRIVERS);
  assert.equal(config.log.level, 'warn');
  assert.equal(config.log.formatter, 'json');
  assert.equal(config.storage.cache.blobdescriptor, undefined);
  assert.equal(config.http.tls, undefined);
  assert.equal(config.validation.disabled, false);
  assert.equal(config.catalog.maxEntries, 10);
  assert.deepEqual(warnings.sort(), [
    'compatibility: this section is not implemented yet and is ignored',
    'frobnicate: unknown key, ignored',
    'http.tls.letsencrypt: not supported and ignored',
    'log.formatter: logstash is not supported; using json',
    'loglevel: deprecated, use log.level',
    'reporting: this section is not implemented yet and is ignored',
    'storage.cache.blobdescriptor: redis needs the redis section; blob descriptor caching is disabled',
    'validation.enabled: deprecated, use validation.disabled',
  ]);
});

test('minimumtls tls1.0 and tls1.1 are accepted with a warning that the security level is lowered', () => {
  for (const v of ['tls1.0', 'tls1.1']) {
    const { config, warnings } = parseConfig(`version: 0.1\nstorage: inmemory\nhttp:\n  tls:\n    certificate: /c\n    key: /k\n    minimumtls: ${v}\n`, {}, DRIVERS);
    assert.equal(config.http.tls?.minimumtls, v);
    assert.deepEqual(warnings, [`http.tls.minimumtls: ${v} lets clients use obsolete TLS versions; OpenSSL's security level is lowered to 0 on this listener so that their SHA-1 handshakes work`]);
  }
  assert.deepEqual(parseConfig('version: 0.1\nstorage: inmemory\nhttp:\n  tls:\n    certificate: /c\n    key: /k\n    minimumtls: tls1.2\n', {}, DRIVERS).warnings, []);
});

test('validation.manifests.indexes: all by default, none, or a list of platforms', () => {
  const parse = (v: string) => parseConfig(`version: 0.1\nstorage: inmemory\nvalidation:\n  manifests:\n    indexes:\n${v}`, {}, DRIVERS).config.validation.manifests.indexes;
  assert.deepEqual(parseConfig('version: 0.1\nstorage: inmemory\n', {}, DRIVERS).config.validation.manifests.indexes, { platforms: 'all', platformlist: [] });
  assert.deepEqual(parse('      platforms: none\n'), { platforms: 'none', platformlist: [] });
  assert.deepEqual(parse('      platforms: list\n      platformlist:\n        - os: linux\n          architecture: arm64\n'), { platforms: 'list', platformlist: [{ os: 'linux', architecture: 'arm64' }] });
  assert.throws(() => parse('      platforms: some\n'), /^ConfigError: validation\.manifests\.indexes\.platforms: expected all, none or list, got "some"$/);
  assert.throws(() => parse('      platforms: list\n'), /platformlist: platforms: list needs at least one platform/);
  assert.throws(() => parse('      platforms: list\n      platformlist:\n        - os: linux\n'), /platformlist\[0\]: expected os and architecture/);
});

test('auth: none (or auth.none) is no access controller, as if auth were absent', () => {
  for (const auth of ['auth: none\n', 'auth:\n  none:\n']) {
    const { config, warnings } = parseConfig(`version: 0.1\nstorage: inmemory\n${auth}`, {}, DRIVERS);
    assert.equal(config.auth, undefined, auth);
    assert.deepEqual(warnings, []);
  }
});

test('unknown keys inside known sections are warnings', () => {
  const { warnings } = parseConfig('version: 0.1\nstorage:\n  inmemory:\n  delete:\n    enabeld: true\nhttp:\n  adr: x\n', {}, DRIVERS);
  assert.deepEqual(warnings, ['storage.delete.enabeld: unknown key, ignored', 'http.adr: unknown key, ignored']);
});

const ERRORS: [string, string][] = [
  ['storage: inmemory', 'version: missing (this registry reads configuration version 0.1)'],
  ['version: 0.2\nstorage: inmemory', 'version: unsupported version "0.2" (expected 0.1)'],
  ['version: 0.1', 'storage: no storage driver configured'],
  ['version: 0.1\nstorage:\n  foo:\n', 'storage: unknown driver "foo" (known: filesystem, inmemory, s3)'],
  ['version: 0.1\nstorage:\n  inmemory:\n  filesystem:\n', 'storage: multiple storage drivers configured (inmemory, filesystem); configure exactly one'],
  ['version: 0.1\nstorage: [a]', 'storage: expected a map with one storage driver, got a list'],
  ['version: 0.1\nstorage:\n  inmemory:\n  delete:\n    enabled: "maybe"', 'storage.delete.enabled: invalid boolean "maybe" (expected true or false)'],
  ['version: 0.1\nstorage:\n  inmemory:\n  cache:\n    blobdescriptorsize: lots', 'storage.cache.blobdescriptorsize: invalid integer "lots"'],
  ['version: 0.1\nstorage:\n  inmemory:\n  maintenance:\n    uploadpurging:\n      age: week', 'storage.maintenance.uploadpurging.age: invalid duration "week"'],
  ['version: 0.1\nstorage: inmemory\nhttp:\n  draintimeout: abc', 'http.draintimeout: invalid duration "abc"'],
  ['version: 0.1\nstorage: inmemory\nhttp:\n  draintimeout: -1s', 'http.draintimeout: invalid duration "-1s" (must not be negative)'],
  ['version: 0.1\nstorage: inmemory\nhttp:\n  net: udp', 'http.net: unsupported network "udp" (expected tcp or unix)'],
  ['version: 0.1\nstorage: inmemory\nhttp:\n  host: myregistry:5000', 'http.host: invalid URL "myregistry:5000" (expected scheme://host[:port])'],
  ['version: 0.1\nstorage: inmemory\nhttp:\n  tls:\n    certificate: /c', 'http.tls.key: required when http.tls.certificate is set'],
  ['version: 0.1\nstorage: inmemory\nhttp:\n  tls:\n    certificate: /c\n    key: /k\n    minimumtls: ssl3', 'http.tls.minimumtls: unknown TLS version "ssl3" (expected one of tls1.0, tls1.1, tls1.2, tls1.3)'],
  ['version: 0.1\nstorage: inmemory\nhttp:\n  headers:\n    X-A: {b: c}', 'http.headers: header X-A: expected a list of strings, got a map'],
  ['version: 0.1\nstorage: inmemory\nhttp: yes', 'http: expected a map, got yes'],
  ['version: 0.1\nstorage: inmemory\nlog:\n  level: verbose', 'log.level: invalid level "verbose" (expected one of error, warn, info, debug, trace)'],
  ['version: 0.1\nstorage: inmemory\nlog:\n  formatter: xml', 'log.formatter: unsupported formatter "xml" (expected text, json or logstash)'],
  ['version: 0.1\nstorage: inmemory\nvalidation:\n  manifests:\n    urls:\n      allow: ["("]', 'validation.manifests.urls.allow[0]: invalid regular expression "(": Invalid regular expression: /(/: Unterminated group'],
  ['version: 0.1\nstorage: inmemory\nvalidation:\n  manifests:\n    urls:\n      deny: [[x]]', 'validation.manifests.urls.deny[0]: expected a string, got a list'],
  ['version: 0.1\nstorage: inmemory\ncatalog:\n  maxentries: 0', 'catalog.maxentries: must be a positive number of repositories, got 0'],
  ['version: 0.1\nstorage: inmemory\ncatalog:\n  maxentries: many', 'catalog.maxentries: invalid integer "many"'],
  ['version: 0.1\nstorage: inmemory\nauth:\n  silly: {}\n  token: {}', 'auth: exactly one access controller must be configured, got silly, token'],
  ['version: 0.1\nstorage: [', 'configuration: invalid YAML: Flow sequence in block collection must be sufficiently indented and end with a ] at line 2, column 11'],
  ['- a\n- b', 'configuration: expected a YAML map at the top level'],
];

for (const [text, message] of ERRORS) {
  test(`error: ${message}`, () => {
    assert.throws(
      () => parseConfig(text, {}, DRIVERS),
      (error: unknown) => error instanceof ConfigError && error.message === message && !error.message.includes('\n'),
    );
  });
}

test('loadConfigFile reads files and names them in errors', async () => {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'berth-config-'));
  try {
    const file = path.join(dir, 'config.yml');
    await writeFile(file, 'version: 0.1\nstorage:\n  filesystem:\n    rootdirectory: data\n');
    const { config } = await loadConfigFile(file, {}, { cwd: dir });
    assert.deepEqual(config.storage.parameters, { rootdirectory: path.join(dir, 'data') });
    await assert.rejects(loadConfigFile(path.join(dir, 'missing.yml'), {}), { message: `config file ${path.join(dir, 'missing.yml')}: not found` });
    await assert.rejects(loadConfigFile(dir, {}), { message: `config file ${dir}: is a directory` });
    await writeFile(file, 'version: 0.1\n  bad: [\n');
    await assert.rejects(loadConfigFile(file, {}), (e: unknown) => e instanceof ConfigError && e.message.startsWith(`config file ${file}: invalid YAML: `));
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
