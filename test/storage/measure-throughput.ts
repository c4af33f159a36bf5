/**
 * Measures the filesystem driver's streaming throughput (not a test: run it by hand).
 *   node --import tsx test/storage/measure-throughput.ts [MiB] [dir]
 * Writes MiB (default 256) through a writer in 64 KiB chunks, reads it back through a reader,
 * for several write block and read chunk sizes, with and without fsync at commit; then times
 * putContent of small files. Each figure is the best of `RUNS` (default 3) runs, since the
 * machine is shared. Prints MB/s (10^6 bytes per second).
 */
import { createHash, randomBytes } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { finished } from 'node:stream/promises';
import { wrapDriver } from '../../src/storage/driver/base.js';
import { FilesystemDriver } from '../../src/storage/driver/filesystem.js';

const mib = Number(process.argv[2] ?? 256);
const parent = process.argv[3] ?? tmpdir();
const total = mib * 1024 * 1024;
const CHUNK = 64 * 1024;
const source = randomBytes(4 * 1024 * 1024);
const chunkAt = (i: number) => source.subarray((i * CHUNK) % source.length, ((i * CHUNK) % source.length) + CHUNK);
const RUNS = Number(process.env['RUNS'] ?? 3);
const rate = (bytes: number, ms: number) => `${((bytes / ms) * 1000 / 1e6).toFixed(0).padStart(5)} MB/s`;
const KiB = (n: number) => `${n / 1024} KiB`.padEnd(9);

async function best(run: () => Promise<number[]>): Promise<number[]> {
  let out: number[] = [];
  for (let i = 0; i < RUNS; i++) {
    const r = await run();
    out = out.length ? out.map((v, j) => Math.min(v, r[j]!)) : r;
  }
  return out;
}

async function once(root: string, writeBlockSize: number, readChunkSize: number, fsync: boolean): Promise<string> {
  const [wrote, committed, read] = await best(() => timed(root, writeBlockSize, readChunkSize, fsync));
  return `write ${rate(total, wrote!)}  write+commit ${rate(total, committed!)}  read ${rate(total, read!)}`;
}

async function timed(root: string, writeBlockSize: number, readChunkSize: number, fsync: boolean): Promise<number[]> {
  const driver = wrapDriver(new FilesystemDriver({ rootDirectory: root, maxThreads: 100, fsync, confineSymlinks: false, directWrites: true, writeBlockSize, readChunkSize }));
  const p = `/docker/blob-${writeBlockSize}-${readChunkSize}-${fsync}`;
  let t = performance.now();
  const w = await driver.writer(p);
  for (let i = 0; i < total / CHUNK; i++) await w.write(chunkAt(i));
  const wrote = performance.now() - t;
  await w.commit();
  const committed = performance.now() - t;
  t = performance.now();
  let n = 0;
  for await (const c of await driver.reader(p)) n += (c as Buffer).length;
  const read = performance.now() - t;
  if (n !== total) throw new Error(`read ${n} of ${total}`);
  await driver.delete(p);
  return [wrote, committed, read];
}

async function baseline(root: string): Promise<string> {
  const [wrote, read] = await best(() => baselineOnce(root));
  return `write ${rate(total, wrote!)}  (fs.createWriteStream)         read ${rate(total, read!)} (fs.createReadStream, 64 KiB)`;
}

async function baselineOnce(root: string): Promise<number[]> {
  const file = path.join(root, 'baseline');
  let t = performance.now();
  const ws = createWriteStream(file);
  for (let i = 0; i < total / CHUNK; i++) if (!ws.write(chunkAt(i))) await new Promise<void>((r) => ws.once('drain', () => r()));
  ws.end();
  await finished(ws);
  const wrote = performance.now() - t;
  t = performance.now();
  let n = 0;
  for await (const c of createReadStream(file)) n += (c as Buffer).length;
  const read = performance.now() - t;
  await rm(file);
  if (n !== total) throw new Error(`read ${n} of ${total}`);
  return [wrote, read];
}

async function smallFiles(root: string, fsync: boolean): Promise<string> {
  const driver = wrapDriver(new FilesystemDriver({ rootDirectory: root, maxThreads: 100, fsync, confineSymlinks: false, directWrites: true }));
  const count = 500;
  const t = performance.now();
  for (let i = 0; i < count; i++) await driver.putContent(`/docker/small/${fsync}/${i % 50}/link`, Buffer.from(`sha256:${i}`));
  const ms = performance.now() - t;
  return `putContent fsync=${fsync}: ${((count / ms) * 1000).toFixed(0)} files/s sequential (${(ms / count).toFixed(3)} ms each)`;
}

const root = await mkdtemp(path.join(parent, 'berth-throughput-'));
try {
  console.log(`${mib} MiB in 64 KiB chunks, root ${root}, node ${process.version}`);
  console.log(`baseline                  ${await baseline(root)}`);
  for (const fsync of [false, true]) {
    for (const [wb, rc] of [[64 * 1024, 64 * 1024], [256 * 1024, 256 * 1024], [1024 * 1024, 1024 * 1024], [4096 * 1024, 1024 * 1024]] as const) {
      console.log(`fsync=${String(fsync).padEnd(5)} block ${KiB(wb)} read ${KiB(rc)} ${await once(root, wb, rc, fsync)}`);
    }
  }
  console.log(await smallFiles(root, false));
  console.log(await smallFiles(root, true));
  console.log(`sha256 of the 4 MiB source (sanity): ${createHash('sha256').update(source).digest('hex').slice(0, 12)}`);
} finally {
  await rm(root, { recursive: true, force: true });
}
