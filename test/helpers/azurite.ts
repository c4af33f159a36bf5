/**
 * Azurite (Azure Blob Storage's emulator, an npm dev dependency) on a free loopback port, in its
 * own process group, with its data in a temp dir: the Azure server the azure driver's tests use.
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { BlobServiceClient, StorageSharedKeyCredential } from '@azure/storage-blob';
import { freePort } from './registry.js';

/** Azurite's well-known development account. */
export const AZURITE_ACCOUNT = 'devstoreaccount1';
export const AZURITE_KEY = 'Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==';
const MAIN = fileURLToPath(new URL('../../node_modules/azurite/dist/src/blob/main.js', import.meta.url));

export interface Azurite {
  /** The account's service URL (the driver's `serviceurl`). */
  url: string;
  client: BlobServiceClient;
  /** A new, empty container with a unique name. */
  container(): Promise<string>;
  /** A unique container name that does not exist. */
  freshName(): string;
  stop(): Promise<void>;
}

export async function startAzurite(): Promise<Azurite> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'berth-azurite-'));
  const port = await freePort();
  // --skipApiVersionCheck: the SDK is newer than Azurite's API list; --disableTelemetry: no calls out.
  const child = spawn(process.execPath, [MAIN, '--blobHost', '127.0.0.1', '--blobPort', String(port), '--location', dir,
    '--silent', '--skipApiVersionCheck', '--disableTelemetry'], { detached: true, stdio: 'ignore' });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const stop = async () => {
    try { process.kill(-child.pid!, 'SIGTERM'); } catch { /* gone */ }
    await exited;
    await rm(dir, { recursive: true, force: true });
  };
  for (let i = 0; ; i++) {
    const ok = await new Promise<boolean>((resolve) => {
      const s = net.connect(port, '127.0.0.1', () => { s.end(); resolve(true); }).on('error', () => resolve(false));
    });
    if (ok) break;
    if (i > 200) {
      await stop();
      throw new Error('azurite did not start');
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  const url = `http://127.0.0.1:${port}/${AZURITE_ACCOUNT}`;
  const client = new BlobServiceClient(url, new StorageSharedKeyCredential(AZURITE_ACCOUNT, AZURITE_KEY));
  const freshName = () => `berth-${randomBytes(5).toString('hex')}`;
  return {
    url,
    client,
    freshName,
    async container() {
      const name = freshName();
      await client.getContainerClient(name).create();
      return name;
    },
    stop,
  };
}
