// The same configuration berth serve reads, as YAML text or plain data; REGISTRY_* only when passed.
import assert from 'node:assert/strict';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConfigError, loadConfig, startRegistry } from 'berth';

const root = await mkdtemp(join(tmpdir(), 'berth-example-'));
const registry = await startRegistry({
  config: `
storage:
  filesystem:
    rootdirectory: ${root}
http:
  headers:
    X-Served-By: [berth]
`,
  env: { REGISTRY_STORAGE_DELETE_ENABLED: 'true' },
});
try {
  const res = await fetch(`${registry.url}/v2/`);
  assert.equal(res.headers.get('x-served-by'), 'berth');
  await fetch(`${registry.url}/v2/demo/blobs/uploads/`, { method: 'POST' });
  assert.ok((await readdir(root)).includes('docker')); // Distribution's layout, under the root given
} finally {
  await registry.close();
  await rm(root, { recursive: true, force: true });
}

// loadConfig checks a configuration without starting anything; errors are one line naming the key.
const { config } = await loadConfig({ version: '0.1', storage: { inmemory: {} }, http: { addr: ':5000' } });
assert.equal(config.storage.driver, 'inmemory');
try {
  await loadConfig('version: 0.1\nstorage: inmemory\nhttp:\n  draintimeout: soon\n');
} catch (err) {
  assert.ok(err instanceof ConfigError);
  console.log(err.message); // http.draintimeout: invalid duration "soon"
}
