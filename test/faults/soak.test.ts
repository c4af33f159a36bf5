/**
 * Soak: 200 clients at once (test/faults/soak.ts) on the filesystem with one instance, and on S3
 * with two instances sharing Redis (50 clients in `npm test`, see S3_CLIENTS), garbage collection running on its schedule meanwhile. No
 * server errors, no wrong answers, every acknowledged push pulls whole at the end, and the
 * registry's RSS at the end within 20% of its RSS after the first 10 s. The request count, errors,
 * p50/p99 and RSS are printed as the last lines.
 *
 * Length: SOAK_SECONDS, 20 in `npm test` (keeps the suite inside CI's time: the two runs take
 * about a minute with start-up) and 60 in `npm run soak`, the full length the issue asks for.
 */
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { defaultYaml, startChildRegistry, type Registry } from '../helpers/registry.js';
import { s3RegistryYaml, startS3, type S3Server } from '../helpers/s3.js';
import { startRedis, type RedisServer } from '../helpers/redis.js';
import { runSoak, summary, treeRss } from './soak.js';

const SECONDS = Number(process.env.SOAK_SECONDS ?? 20);
const CLIENTS = Number(process.env.SOAK_CLIENTS ?? 200);
/**
 * Clients of the S3 run in `npm test`: 50. On the shared 2-core machine this was written on
 * (load average ~35), 200 clients against RGW and two instances drove single requests past the
 * clients' 60 s timeout (every process starved of CPU: docs/operations.md, "Sustained load").
 * Since the S3 driver's small calls went past the AWS SDK, 200 pass (`npm run soak`, slowest
 * request 10.5 s at load ~7); `npm test` runs beside other suites and keeps the margin of 50.
 */
const S3_CLIENTS = Number(process.env.SOAK_S3_CLIENTS ?? 50);

/**
 * The RSS bound is the rule for its 60 s soak. On S3 a 20 s run's second half is still
 * warm-up (two instances grew 20.1% and 20.9% from 10 s to the end in two runs on 2026-12-04), so
 * there the bound is asserted at the full length (`npm run soak`) and only printed in `npm test`.
 */
const S3_RSS_CHECKED = SECONDS >= 60;

async function soakOn(what: string, regs: Registry[], clients: number, rssChecked = true): Promise<void> {
  const rss = () => regs.reduce((sum, r) => sum + treeRss(r.pid!), 0);
  let rss10 = 0;
  const sample = setTimeout(() => { rss10 = rss(); }, 10_000);
  // "At the end" is when the load ends, before the closing pulls that check every push.
  let rssEnd = 0;
  const result = await runSoak({ urls: regs.map((r) => r.url), clients, durationMs: SECONDS * 1000, onLoadEnd: () => { rssEnd = rss(); } });
  clearTimeout(sample);
  const lines = summary(what, result, rss10, rssEnd);
  // Printed first: a failing run's figures (its slowest requests above all) say where it failed.
  for (const line of lines) console.log(line);
  assert.equal(result.serverErrors, 0, `server errors: ${result.wrong.slice(0, 5).join('; ')}`);
  assert.deepEqual(result.wrong.slice(0, 10), [], 'no wrong answers');
  assert.ok(result.pushes > 0 && result.verified > 0);
  if (rssChecked) assert.ok(rssEnd <= rss10 * 1.2, `RSS grew by more than 20%: ${lines.at(-1)}`);
}

const gc = (grace: string) => ['berth:', '  gc:', '    enabled: true', '    interval: 5s', `    grace: ${grace}`, '    deleteuntagged: true'].join('\n');

describe(`soak: ${SECONDS} s`, () => {
  const regs: Registry[] = [];
  let s3: S3Server | undefined;
  let redis: RedisServer | undefined;
  after(async () => {
    for (const r of regs) await r.stop().catch(() => undefined);
    await redis?.stop();
    await s3?.stop();
  });

  it('on the filesystem, one instance, collecting garbage every 5 s (grace 30 s)', async () => {
    const reg = await startChildRegistry({ yaml: defaultYaml({ extraYaml: gc('30s') }) });
    // Stopped whatever the outcome: left running after a failed assertion, it became a third
    // instance of the S3 run (with another http.secret: its upload tokens failed there).
    let failed = true;
    try {
      await soakOn(`filesystem, ${CLIENTS} clients`, [reg], CLIENTS);
      failed = false;
    } finally {
      await reg.stop().catch((err: unknown) => {
        if (!failed) throw err; // the soak's own failure says more
      });
    }
  });

  it('on S3, two instances sharing Redis, collecting garbage every 5 s (grace 1h, as several instances need)', async () => {
    [s3, redis] = await Promise.all([startS3(), startRedis()]);
    const bucket = await s3.bucket();
    const yaml = s3RegistryYaml(s3.params(bucket), {
      secret: 'soak-shared-secret',
      storage: ['  delete:', '    enabled: true', '  cache:', '    blobdescriptor: redis'],
      top: ['redis:', `  addr: ${redis.addr}`, ...gc('1h').split('\n')],
    });
    for (let i = 0; i < 2; i++) regs.push(await startChildRegistry({ yaml }));
    await soakOn(`s3, two instances, ${S3_CLIENTS} clients`, regs, S3_CLIENTS, S3_RSS_CHECKED);
  });
});
