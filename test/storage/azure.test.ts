import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { randomBytes } from 'node:crypto';
import { after, before } from 'node:test';
import { BlobServiceClient, StorageSharedKeyCredential } from '@azure/storage-blob';
import { createDriver } from '../../src/storage/driver/factory.js';
import { runDriverSuite } from '../../src/testing/index.js';

// Azurite's well-known development account.
const ACCOUNT = 'devstoreaccount1';
const KEY = 'Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==';
const AZURITE = fileURLToPath(new URL('../../node_modules/azurite/dist/src/blob/main.js', import.meta.url));

let dir: string;
let url: string;
let stop: () => Promise<void> = async () => undefined;

async function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = net.createServer().listen(0, '127.0.0.1', () => {
      const { port } = s.address() as net.AddressInfo;
      s.close(() => resolve(port));
    });
  });
}

before(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'berth-azurite-'));
  const port = await freePort();
  // Its own process group, stopped as a group. --skipApiVersionCheck: the SDK is newer than
  // Azurite's API list; --disableTelemetry: no calls out.
  const child = spawn(process.execPath, [AZURITE, '--blobHost', '127.0.0.1', '--blobPort', String(port), '--location', dir,
    '--silent', '--skipApiVersionCheck', '--disableTelemetry'], { detached: true, stdio: 'ignore' });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  stop = async () => {
    try { process.kill(-child.pid!, 'SIGTERM'); } catch { /* gone */ }
    await exited;
  };
  url = `http://127.0.0.1:${port}/${ACCOUNT}`;
  for (let i = 0; ; i++) {
    const ok = await new Promise<boolean>((resolve) => {
      const s = net.connect(port, '127.0.0.1', () => { s.end(); resolve(true); }).on('error', () => resolve(false));
    });
    if (ok) break;
    if (i > 200) throw new Error('azurite did not start');
    await new Promise((r) => setTimeout(r, 50));
  }
});
after(async () => {
  await stop();
  await rm(dir, { recursive: true, force: true });
});

async function container(): Promise<string> {
  const name = `berth-${randomBytes(5).toString('hex')}`;
  await new BlobServiceClient(url, new StorageSharedKeyCredential(ACCOUNT, KEY)).getContainerClient(name).create();
  return name;
}

runDriverSuite('azure (azurite)', async () => {
  const driver = await createDriver('azure', { accountname: ACCOUNT, accountkey: KEY, container: await container(), serviceurl: url });
  return { driver, cleanup: async () => undefined };
}, { listFiles: true });

runDriverSuite('azure (azurite) with rootdirectory', async () => {
  const driver = await createDriver('azure', { accountname: ACCOUNT, accountkey: KEY, container: await container(), serviceurl: url, rootdirectory: '/reg/' });
  return { driver, cleanup: async () => undefined };
}, { listFiles: true });
