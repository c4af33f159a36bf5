/**
 * Client CPU per S3 call, through the AWS SDK and past it (src/storage/driver/s3/direct.ts), on
 * the S3 server named by S3_ENDPOINT (see scripts/s3/start-rgw.sh) or a throw-away RGW: the same
 * HEAD, small GET, small PUT and one-page listing made `N` times each (8 at a time) by an s3
 * driver with and without its plain-HTTP path. CPU is this process's (process.cpuUsage), so it
 * holds on a loaded machine.
 *
 *   node --import tsx bench/s3-call-cpu.ts          # N=2000
 */
import { createDriver } from '../src/storage/driver/factory.js';
import type { StorageDriver } from '../src/storage/driver/types.js';
import { startS3 } from '../test/helpers/s3.js';

const N = Number(process.env.N ?? 2000);

async function cpuPerCall(what: string, driver: StorageDriver, call: (i: number) => Promise<unknown>): Promise<number> {
  for (let i = 0; i < 200; i++) await call(i); // warm-up
  const c0 = process.cpuUsage();
  let next = 0;
  await Promise.all(Array.from({ length: 8 }, async () => {
    while (next < N) await call(next++);
  }));
  const c = process.cpuUsage(c0);
  return (c.user + c.system) / N;
}

const s3 = await startS3();
try {
  const bucket = await s3.bucket();
  const params = s3.params(bucket);
  // The SDK's way: the same driver with its plain-HTTP path taken away (the base wrapper's inner driver).
  const viaSdk = await createDriver('s3', params);
  (viaSdk as unknown as { inner: { direct?: unknown } }).inner.direct = undefined;
  const direct = await createDriver('s3', params);
  const small = Buffer.alloc(71, 'x');
  await direct.putContent('/c/f', small);
  for (let i = 0; i < 20; i++) await direct.putContent(`/c/l/f${i}`, small);
  const calls: Array<[string, (d: StorageDriver) => (i: number) => Promise<unknown>]> = [
    ['HEAD (stat of a file)', (d) => () => d.stat('/c/f')],
    ['GET 71 B (getContent)', (d) => () => d.getContent('/c/f')],
    ['PUT 71 B (putContent)', (d) => (i) => d.putContent(`/c/p/${i % 50}`, small)],
    ['list 20 keys (listChildren page)', (d) => () => d.list('/c/l')],
  ];
  console.log('µs of client CPU per call (SDK → past the SDK):');
  for (const [what, make] of calls) {
    const sdk = await cpuPerCall(what, viaSdk, make(viaSdk));
    const past = await cpuPerCall(what, direct, make(direct));
    console.log(`  ${what}: ${sdk.toFixed(0)} → ${past.toFixed(0)} (${(sdk / past).toFixed(1)}×)`);
  }
  await viaSdk.close!();
  await direct.close!();
} finally {
  await s3.stop();
}
