import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { ConfigError, loadConfig, registerPlugin, startRegistry, type RunningRegistry } from '../../src/index.js';
import { pushBlobAt } from '../helpers/push.js';
import { startRedis, type RedisServer } from '../helpers/redis.js';

const REPO = fileURLToPath(new URL('../..', import.meta.url));

async function pullBlob(url: string, repo: string, digest: string): Promise<Buffer> {
  const res = await fetch(`${url}/v2/${repo}/blobs/${digest}`);
  assert.equal(res.status, 200);
  return Buffer.from(await res.arrayBuffer());
}

/** Whether anything accepts a connection on the port. */
function listening(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const req = http.get({ host: '127.0.0.1', port, path: '/v2/', agent: false }, (res) => {
      res.resume();
      resolve(true);
    });
    req.on('error', () => resolve(false));
  });
}

describe('startRegistry', () => {
  it('starts with the defaults: inmemory storage on 127.0.0.1, a free port', async () => {
    const registry = await startRegistry();
    try {
      assert.match(registry.url, /^http:\/\/127\.0\.0\.1:\d+$/);
      assert.equal(registry.url, `http://127.0.0.1:${registry.port}`);
      assert.ok(registry.port > 0);
      const base = await fetch(`${registry.url}/v2/`);
      assert.equal(base.status, 200);
      assert.equal(base.headers.get('docker-distribution-api-version'), 'registry/2.0');
      const data = Buffer.from('hello from a library');
      const digest = await pushBlobAt(registry.url, 'lib/test', data);
      assert.deepEqual(await pullBlob(registry.url, 'lib/test', digest), data);
      // inmemory: deletes off by default, as in Distribution.
      assert.equal((await fetch(`${registry.url}/v2/lib/test/blobs/${digest}`, { method: 'DELETE' })).status, 405);
    } finally {
      await registry.close();
    }
    assert.equal(await listening(registry.port), false, 'nothing listens after close()');
  });

  it('takes the configuration as YAML text or as plain data, the same way', async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'berth-lib-'));
    const running: RunningRegistry[] = [];
    try {
      const yaml = `storage:\n  filesystem:\n    rootdirectory: ${dir}/yaml\n  delete:\n    enabled: true\n`;
      const data = { storage: { filesystem: { rootdirectory: `${dir}/object` }, delete: { enabled: true } }, http: { headers: { 'X-Test': ['object'] } } };
      for (const config of [yaml, data]) {
        const registry = await startRegistry({ config });
        running.push(registry);
        const digest = await pushBlobAt(registry.url, 'a/b', Buffer.from('content'));
        assert.equal((await fetch(`${registry.url}/v2/a/b/blobs/${digest}`, { method: 'DELETE' })).status, 202);
      }
      assert.equal((await fetch(`${running[1]!.url}/v2/`)).headers.get('x-test'), 'object');
      assert.deepEqual((await readdir(dir)).sort(), ['object', 'yaml'], 'each wrote under its own rootdirectory');
    } finally {
      await Promise.all(running.map((r) => r.close()));
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('applies REGISTRY_* variables only from options.env', async () => {
    const saved = process.env.REGISTRY_STORAGE_DELETE_ENABLED;
    process.env.REGISTRY_STORAGE_DELETE_ENABLED = 'true';
    try {
      const ignoring = await startRegistry();
      const honouring = await startRegistry({ env: { REGISTRY_STORAGE_DELETE_ENABLED: 'true', 'REGISTRY_HTTP_HEADERS_X-FROM': '[env]' } });
      try {
        const d1 = await pushBlobAt(ignoring.url, 'r', Buffer.from('x'));
        assert.equal((await fetch(`${ignoring.url}/v2/r/blobs/${d1}`, { method: 'DELETE' })).status, 405, 'process.env is not read');
        const d2 = await pushBlobAt(honouring.url, 'r', Buffer.from('x'));
        assert.equal((await fetch(`${honouring.url}/v2/r/blobs/${d2}`, { method: 'DELETE' })).status, 202);
        assert.equal((await fetch(`${honouring.url}/v2/`)).headers.get('x-from'), 'env');
      } finally {
        await ignoring.close();
        await honouring.close();
      }
    } finally {
      if (saved === undefined) delete process.env.REGISTRY_STORAGE_DELETE_ENABLED;
      else process.env.REGISTRY_STORAGE_DELETE_ENABLED = saved;
    }
  });

  it('rejects a bad configuration with the one line serve prints', async () => {
    await assert.rejects(startRegistry({ config: { storage: { inmemory: null, delete: { enabled: 'maybe' } } } }), (err: unknown) => {
      assert.ok(err instanceof ConfigError);
      assert.equal(err.message, 'storage.delete.enabled: invalid boolean "maybe" (expected true or false)');
      return true;
    });
    await assert.rejects(startRegistry({ config: 'storage: [' }), /^ConfigError: configuration: invalid YAML: /);
    await assert.rejects(startRegistry({ config: { storage: { s4: {} } } }), { message: 'storage: unknown driver "s4" (known: azure, filesystem, inmemory, s3; no package "s4" is installed beside berth)' });
    await assert.rejects(startRegistry({ config: { http: { addr: new URL('http://x') } } as never }), { message: 'http.addr: expected plain data (a map, list, string, number or boolean), got a URL' });
  });
});

describe('loadConfig', () => {
  it('reads plain data as a file would be read: numbers and booleans where strings are expected', async () => {
    const { config, warnings } = await loadConfig({ version: 0.1, storage: { inmemory: {}, delete: { enabled: true } }, http: { addr: ':5000', secret: 1234, draintimeout: '5s' }, typo: 1 });
    assert.equal(config.storage.driver, 'inmemory');
    assert.equal(config.storage.delete.enabled, true);
    assert.equal(config.http.secret, '1234');
    assert.equal(config.http.drainTimeoutMs, 5000);
    assert.deepEqual(warnings, ['typo: unknown key, ignored']);
  });

  it('applies env only when given, naming the variable in errors', async () => {
    const yaml = 'version: 0.1\nstorage: inmemory\n';
    assert.equal((await loadConfig(yaml)).config.http.addr, ':5000');
    assert.equal((await loadConfig(yaml, { REGISTRY_HTTP_ADDR: '127.0.0.1:6000' })).config.http.addr, '127.0.0.1:6000');
    await assert.rejects(loadConfig(yaml, { REGISTRY_HTTP_DRAINTIMEOUT: 'abc' }), {
      name: 'ConfigError',
      message: 'http.draintimeout: invalid duration "abc" (set by REGISTRY_HTTP_DRAINTIMEOUT)',
    });
    await assert.rejects(loadConfig({ storage: 'inmemory' }), { message: 'version: missing (this registry reads configuration version 0.1)' });
  });
});

describe('plugins, in process', () => {
  it('loads a module file named in berth.plugins once per process, and uses what it registers', async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'berth-plugin-file-'));
    try {
      const file = path.join(dir, 'plugin.mjs');
      await writeFile(file, `let loads = 0;
export default {
  register(berth) {
    loads++;
    berth.registerStorageDriver('counted-inmemory', async () => {
      const inner = await berth.createDriver('inmemory');
      return Object.assign(Object.create(inner), { name: 'counted-inmemory', loads });
    });
  },
};
`);
      const config = { berth: { plugins: [file] }, storage: { 'counted-inmemory': {} } };
      for (let i = 0; i < 2; i++) {
        const registry = await startRegistry({ config });
        try {
          const digest = await pushBlobAt(registry.url, 'p', Buffer.from(`run ${i}`));
          assert.equal((await pullBlob(registry.url, 'p', digest)).toString(), `run ${i}`);
        } finally {
          await registry.close();
        }
      }
      const { registeredDrivers } = await import('../../src/index.js');
      assert.ok(registeredDrivers().includes('counted-inmemory'));
      await assert.rejects(loadConfig({ version: '0.1', storage: 'inmemory' }, { REGISTRY_BERTH_PLUGINS: `[${path.join(dir, 'absent.mjs')}]` }), {
        message: `plugin "${path.join(dir, 'absent.mjs')}": not found (no file ${path.join(dir, 'absent.mjs')})`,
      });
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('takes a plugin object through registerPlugin, as a program embedding Berth would', async () => {
    const written: string[] = [];
    await registerPlugin({
      register(berth) {
        berth.registerNotificationSink('in-memory-list', () => ({ write: async (event) => void written.push(`${event.action} ${event.target.repository}`), close: async () => {} }));
      },
    });
    const registry = await startRegistry({ config: { notifications: { endpoints: [{ name: 'list', sink: 'in-memory-list' }] } } });
    try {
      await pushBlobAt(registry.url, 'sunk/here', Buffer.from('x'));
      for (let i = 0; i < 100 && written.length === 0; i++) await new Promise((r) => setTimeout(r, 20));
      assert.deepEqual(written, ['push sunk/here']);
    } finally {
      await registry.close();
    }
    await assert.rejects(startRegistry({ config: { notifications: { endpoints: [{ name: 'both', sink: 'in-memory-list', url: 'http://127.0.0.1:9/' }] } } }), {
      message: 'notifications.endpoints[0]: set url (the built-in HTTP sink) or sink (a plugin\'s), not both',
    });
  });
});

describe('close()', () => {
  let redis: RedisServer;
  before(async () => {
    redis = await startRedis();
  });
  after(() => redis.stop());

  it('stops everything it started, so the process exits by itself', async () => {
    // A child process starts a registry with every part that keeps timers or connections (redis,
    // notifications, health checks, scheduled gc and upload purging, the debug server), uses it,
    // closes it, and must then end without process.exit.
    const script = `
      import { startRegistry } from ${JSON.stringify(path.join(REPO, 'src/index.ts'))};
      const registry = await startRegistry({ config: {
        storage: { inmemory: null, maintenance: { uploadpurging: { enabled: true, age: '1h', interval: '1h' } } },
        redis: { addr: ${JSON.stringify(redis.addr)} },
        notifications: { endpoints: [{ name: 'nowhere', url: 'http://127.0.0.1:9/events', timeout: '100ms', backoff: '50ms' }] },
        health: { storagedriver: { enabled: true, interval: '100ms' } },
        http: { debug: { addr: '127.0.0.1:0', prometheus: { enabled: true } } },
        berth: { gc: { enabled: true, interval: '1h' } },
      } });
      const start = await fetch(registry.url + '/v2/x/blobs/uploads/', { method: 'POST' });
      if (start.status !== 202) throw new Error('upload did not start: ' + start.status);
      await registry.close();
      process.stdout.write('closed\\n');
    `;
    const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { cwd: REPO, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (c: Buffer) => (out += c.toString()));
    child.stderr.on('data', (c: Buffer) => (err += c.toString()));
    const code = await new Promise<number | null>((resolve) => {
      const timer = setTimeout(() => {
        child.kill('SIGKILL');
        resolve(null);
      }, 30_000);
      child.once('exit', (status) => {
        clearTimeout(timer);
        resolve(status);
      });
    });
    assert.equal(out, 'closed\n', err);
    assert.equal(code, 0, `the process did not end by itself after close(): ${err}`);
  });
});
