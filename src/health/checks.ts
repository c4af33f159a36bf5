import { access } from 'node:fs/promises';
import http from 'node:http';
import https from 'node:https';
import net from 'node:net';
import { randomUUID } from 'node:crypto';
import type { StorageDriver } from '../storage/driver/types.js';
import { isPathNotFound } from '../storage/driver/errors.js';

/** A health check: resolves when healthy, rejects with the reason otherwise. */
export type Check = () => Promise<void>;

/** Where the storage check writes its probe; nothing Distribution reads lives under it. */
const PROBE_DIR = '/.berth-health';

/**
 * The storage driver check. Distribution stats the root; that does not notice a root that can
 * no longer be written (read-only remount, full disk, permissions), so Berth also writes, reads
 * back and deletes a small probe file, unless the registry is read-only by configuration.
 * A root that does not exist yet (an empty registry) is healthy, as in Distribution.
 */
export function storageDriverCheck(driver: StorageDriver, options: { readonly: boolean }): Check {
  // Each process probes its own directory, so replicas sharing a root never trip over each other.
  const dir = `${PROBE_DIR}/${randomUUID()}`;
  const probe = `${dir}/probe`;
  return async () => {
    try {
      const info = await driver.stat('/');
      if (!info.isDir) throw new Error('storage root is not a directory');
    } catch (err) {
      if (!isPathNotFound(err)) throw err;
    }
    if (options.readonly) return;
    const content = Buffer.from(new Date().toISOString());
    await driver.putContent(probe, content);
    const back = await driver.getContent(probe);
    if (!back.equals(content)) throw new Error('storage probe read back different content');
    await driver.delete(dir);
  };
}

/** Distribution's file check: unhealthy while the file exists (touch it to take a node out of rotation). */
export function fileCheck(file: string): Check {
  return async () => {
    let exists = true;
    try {
      await access(file);
    } catch {
      exists = false;
    }
    if (exists) throw new Error('file exists');
  };
}

/** Distribution's HTTP check: a HEAD request that must answer `statuscode`. */
export function httpCheck(uri: string, statuscode: number, timeoutMs: number, headers: Record<string, string[]>): Check {
  return () =>
    new Promise<void>((resolve, reject) => {
      const url = new URL(uri);
      const request = url.protocol === 'https:' ? https.request : http.request;
      const req = request(url, { method: 'HEAD', headers, agent: false });
      const timer = setTimeout(() => req.destroy(new Error(`no answer within ${timeoutMs} ms`)), timeoutMs);
      req.once('response', (res) => {
        clearTimeout(timer);
        res.resume();
        if (res.statusCode === statuscode) resolve();
        else reject(new Error(`downstream service returned unexpected status: ${res.statusCode}`));
      });
      req.once('error', (err) => {
        clearTimeout(timer);
        reject(new Error(`error while checking: ${err.message}`));
      });
      req.end();
    });
}

/** Distribution's TCP check: a connection must open within the timeout. */
export function tcpCheck(addr: string, timeoutMs: number): Check {
  const m = /^(?:\[([^\]]+)\]|([^:]*)):(\d+)$/.exec(addr);
  const host = m?.[1] ?? (m?.[2] || 'localhost');
  const port = Number(m?.[3]);
  return () =>
    new Promise<void>((resolve, reject) => {
      const socket = net.connect({ host, port });
      const fail = (reason: string) => {
        socket.destroy();
        reject(new Error(`connection to ${addr} failed: ${reason}`));
      };
      socket.setTimeout(timeoutMs, () => fail(`no connection within ${timeoutMs} ms`));
      socket.once('connect', () => {
        socket.destroy();
        resolve();
      });
      socket.once('error', (err) => fail(err.message));
    });
}
