/**
 * What a blob's move costs the S3 store: RGW's and the OSD's CPU (from /proc) for writing an
 * object through the driver's writer, for the driver's multipart copy of it (a move above
 * multipartcopythresholdsize), and for a one-request CopyObject. Each repeated `--rounds` times on
 * a throw-away RGW (or the one S3_ENDPOINT names: then only the driver side is measured).
 *
 *   node --import tsx bench/s3-copy-cpu.ts [--mib 128] [--rounds 3]
 */
import { randomFillSync } from 'node:crypto';
import { S3Driver } from '../src/storage/driver/s3/driver.js';
import { parseS3Params } from '../src/storage/driver/s3/params.js';
import { startS3, type S3Service } from './s3.js';

const GiB = 2 ** 30;

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  const opt = (name: string, dflt: number) => (args.includes(name) ? Number(args[args.indexOf(name) + 1]) : dflt);
  const bytes = opt('--mib', 128) * 2 ** 20;
  const rounds = opt('--rounds', 3);
  let stop = async (): Promise<void> => undefined;
  let s3: S3Service | undefined;
  try {
    s3 = await startS3({ log: (m) => console.log(`[copy] ${m}`), storeBytes: 8 * GiB }, (s) => (stop = s));
    const service = s3;
    const bucket = await service.createBucket('copy');
    const open = (extra: Record<string, unknown> = {}) => new S3Driver(parseS3Params({ ...service.params(bucket), ...extra }));
    // Copies up to 5 GiB in one CopyObject; `big` keeps Distribution's default threshold (32 MiB).
    const driver = open({ multipartcopythresholdsize: 5 * GiB });
    const data = Buffer.allocUnsafe(bytes);
    randomFillSync(data);
    const measure = async (what: string, fn: () => Promise<void>) => {
      const s0 = service.storeCpu() ?? {};
      const me0 = process.cpuUsage();
      const t0 = performance.now();
      await fn();
      const ms = performance.now() - t0;
      const me = process.cpuUsage(me0);
      const s1 = service.storeCpu() ?? {};
      const roles = Object.keys(s1).map((r) => `${r} ${(((s1[r]! - (s0[r] ?? 0)) * GiB) / bytes).toFixed(2)}`);
      const total = Object.keys(s1).reduce((n, r) => n + s1[r]! - (s0[r] ?? 0), 0);
      console.log(`${what.padEnd(22)} store ${((total * GiB) / bytes).toFixed(2)} s/GiB (${roles.join(', ')})  this process ${((((me.user + me.system) / 1e6) * GiB) / bytes).toFixed(2)} s/GiB  ${(bytes / ms / 1e3).toFixed(0)} MB/s`);
    };
    for (let round = 0; round < rounds; round++) {
      const src = `/r${round}/src`;
      await measure('write (parts)', async () => {
        const w = await driver.writer(src);
        for (let at = 0; at < bytes; at += 1 << 20) await w.write(data.subarray(at, at + (1 << 20)));
        await w.commit();
      });
      const big = open();
      await measure('multipart copy', () => big.copy(src, `/r${round}/mp`, bytes));
      await big.close();
      await measure('CopyObject', () => driver.copy(src, `/r${round}/one`, bytes));
      await measure('read (GET)', async () => {
        const file = await driver.openRead!(src, 0);
        const buf = Buffer.allocUnsafe(2 << 20);
        for (let at = 0; at < bytes; ) at += await file.read(buf, buf.length, at);
        await file.close();
      });
      await driver.delete(`/r${round}`);
    }
    await driver.close();
  } finally {
    await s3?.stop(false);
    await stop();
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
