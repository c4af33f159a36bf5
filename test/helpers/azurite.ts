/**
 * Azurite (Azure Blob Storage's emulator, an npm dev dependency) on a free loopback port, in its
 * own process group, with its data in a temp dir: the Azure server the azure driver's tests use.
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
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
  /** SIGKILLs azurite (requests in flight are cut, new connections refused); its data dir stays. */
  kill(): Promise<void>;
  /** Starts it again on the same port and data dir; resolves once it accepts connections. */
  start(): Promise<void>;
  /**
   * Resolves once azurite's metadata on disk mentions `text` (a blob name). It keeps metadata in
   * memory and saves a snapshot every 5 s, so a SIGKILL loses what it acknowledged since: a test
   * that kills it waits for its last write to be saved first, lest it blame Berth for the
   * emulator's lost writes. A snapshot holding the last write holds every earlier one.
   */
  saved(text: string): Promise<void>;
  stop(): Promise<void>;
}

export async function startAzurite(): Promise<Azurite> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'berth-azurite-'));
  const port = await freePort();
  let exited: Promise<void> = Promise.resolve();
  let pid: number | undefined;
  const signal = async (sig: NodeJS.Signals) => {
    try { if (pid) process.kill(-pid, sig); } catch { /* gone */ }
    await exited;
  };
  const accepts = () => new Promise<boolean>((resolve) => {
    const s = net.connect(port, '127.0.0.1', () => { s.end(); resolve(true); }).on('error', () => resolve(false));
  });
  const launch = async () => {
    // --skipApiVersionCheck: the SDK is newer than Azurite's API list; --disableTelemetry: no calls out.
    const child = spawn(process.execPath, [MAIN, '--blobHost', '127.0.0.1', '--blobPort', String(port), '--location', dir,
      '--silent', '--skipApiVersionCheck', '--disableTelemetry'], { detached: true, stdio: 'ignore' });
    pid = child.pid;
    exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    for (let i = 0; !(await accepts()); i++) {
      if (i > 200) {
        await signal('SIGKILL');
        throw new Error('azurite did not start');
      }
      await new Promise((r) => setTimeout(r, 50));
    }
  };
  const stop = async () => {
    await signal('SIGTERM');
    await rm(dir, { recursive: true, force: true });
  };
  try {
    await launch();
  } catch (err) {
    await rm(dir, { recursive: true, force: true });
    throw err;
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
    kill: () => signal('SIGKILL'),
    start: launch,
    async saved(text) {
      const db = path.join(dir, '__azurite_db_blob__.json');
      for (let i = 0; !(await readFile(db, 'utf8').catch(() => '')).includes(text); i++) {
        if (i > 200) throw new Error(`azurite did not save ${text} within 20 s`);
        await new Promise((r) => setTimeout(r, 100));
      }
    },
    stop,
  };
}
