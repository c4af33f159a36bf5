/**
 * A redis-server the test can kill and start again on the same port (as an operator's restart),
 * nothing persisted: after a restart it is empty, as a cache that lost its state.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { Redis } from 'ioredis';
import { freePort } from '../helpers/registry.js';
import { until } from './bounded.js';

export interface RedisControl {
  readonly addr: string;
  readonly port: number;
  /** SIGKILL: connections drop, new ones are refused. */
  kill(): Promise<void>;
  /** Starts it again on the same port; resolves once it answers PING. */
  start(): Promise<void>;
  /** Clients connected now (CLIENT LIST, not counting the asking one). */
  clients(): Promise<number>;
  stop(): Promise<void>;
}

export async function startRedisControl(): Promise<RedisControl> {
  const port = await freePort();
  const dir = await mkdtemp(path.join(os.tmpdir(), 'berth-redisf-'));
  let child: ChildProcess | undefined;
  let exited: Promise<void> = Promise.resolve();
  const ask = async <T>(fn: (r: Redis) => Promise<T>): Promise<T> => {
    const r = new Redis({ port, host: '127.0.0.1', lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
    r.on('error', () => undefined);
    try {
      await r.connect();
      return await fn(r);
    } finally {
      r.disconnect();
    }
  };
  const control: RedisControl = {
    addr: `127.0.0.1:${port}`,
    port,
    async start() {
      const c = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir], { stdio: 'ignore' });
      child = c;
      exited = new Promise<void>((resolve) => c.once('exit', () => resolve()));
      await until(10_000, 'redis-server answers', () => ask((r) => r.ping()).then(() => true, () => false));
    },
    async kill() {
      child?.kill('SIGKILL');
      await exited;
    },
    async clients() {
      return ask(async (r) => String(await r.client('LIST')).trim().split('\n').length - 1);
    },
    async stop() {
      await control.kill();
      await rm(dir, { recursive: true, force: true });
    },
  };
  await control.start();
  return control;
}
