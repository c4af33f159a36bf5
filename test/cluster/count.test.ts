import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { WORKER_SEMI_SPACE, workerExecArgv } from '../../src/cluster/primary.js';
import { workerCount } from '../../src/cluster/workers.js';
import { ConfigError } from '../../src/config/errors.js';
import { parseConfig } from '../../src/config/load.js';

const count = (workers: string | undefined, env: Record<string, string> = {}) =>
  workerCount(parseConfig(`version: 0.1\nstorage:\n  inmemory:\n${workers === undefined ? '' : `berth:\n  workers: ${workers}\n`}`, env).config, () => 6);

describe('berth.workers', () => {
  it('is the CPUs available by default and for auto', () => {
    assert.equal(count(undefined), 6);
    assert.equal(count('auto'), 6);
  });

  it('takes a whole number, from the file or REGISTRY_BERTH_WORKERS', () => {
    assert.equal(count('1'), 1);
    assert.equal(count('3'), 3);
    assert.equal(count('auto', { REGISTRY_BERTH_WORKERS: '2' }), 2);
  });

  it('refuses anything else with one line naming the key', () => {
    for (const bad of ['0', '-1', '1.5', 'many', '5000']) {
      assert.throws(() => count(bad), (err: unknown) => err instanceof ConfigError && /^berth\.workers: expected auto or a whole number/.test(err.message), bad);
    }
  });
});

describe('the workers\' node options', () => {
  it('size the young generation first, the primary\'s own node options after it', () => {
    assert.deepEqual(workerExecArgv([]), [WORKER_SEMI_SPACE]);
    assert.deepEqual(workerExecArgv(['--enable-source-maps']), [WORKER_SEMI_SPACE, '--enable-source-maps']);
  });

  it('leave the young generation to an operator who sized it, on node\'s command line or in NODE_OPTIONS', () => {
    assert.deepEqual(workerExecArgv(['--max-semi-space-size=32']), ['--max-semi-space-size=32']);
    assert.deepEqual(workerExecArgv([], '--require x --max_semi_space_size=4'), []);
  });
});
