import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { Redis } from 'ioredis';
import { freePort } from './registry.js';

export interface RedisServer {
  addr: string;
  port: number;
  stop(): Promise<void>;
}

/**
 * A throw-away redis-server (Debian's) on a free loopback port, nothing persisted. The port is
 * free when chosen but another test's server may take it before redis binds it: a start that
 * fails with "Address already in use" is tried again on another port.
 */
export async function startRedis(): Promise<RedisServer> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await startRedisOnce();
    } catch (err) {
      if (!(err instanceof PortTaken) || attempt >= 5) throw err;
    }
  }
}

class PortTaken extends Error {}

async function startRedisOnce(): Promise<RedisServer> {
  const port = await freePort();
  const dir = await mkdtemp(path.join(os.tmpdir(), 'berth-redis-'));
  // redis-server reports start-up errors on stdout.
  const child = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir],
    { stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  const collect = (c: Buffer) => { if (output.length < 64 * 1024) output += c.toString(); };
  child.stdout?.on('data', collect);
  child.stderr?.on('data', collect);
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const probe = new Redis({ port, host: '127.0.0.1', lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
  probe.on('error', () => undefined);
  const deadline = Date.now() + 10_000;
  for (;;) {
    try {
      await probe.connect();
      await probe.ping();
      break;
    } catch {
      if (child.exitCode !== null || Date.now() > deadline) {
        child.kill('SIGKILL');
        probe.disconnect();
        await rm(dir, { recursive: true, force: true });
        const last = output.trim().split('\n').slice(-3).join(' | ');
        if (/Address already in use/.test(output)) throw new PortTaken(`redis-server: port ${port} taken: ${last}`);
        throw new Error(`redis-server did not start: ${last}`);
      }
      await new Promise((r) => setTimeout(r, 50));
    }
  }
  // Only start-up output is kept; the server's later log is read and dropped.
  child.stdout?.off('data', collect);
  child.stdout?.resume();
  probe.disconnect();
  return {
    addr: `127.0.0.1:${port}`,
    port,
    async stop() {
      child.kill('SIGTERM');
      await exited;
      await rm(dir, { recursive: true, force: true });
    },
  };
}
