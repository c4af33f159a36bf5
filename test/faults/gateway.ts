/**
 * A Ceph RGW of the test's own (never the shared one named by S3_ENDPOINT: the outage scenarios
 * stop it), whose S3 gateway process can be stopped and started again on the same port while the
 * monitor and the OSD keep the data, as an operator restarting radosgw would.
 */
import { execFile, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { appendFile } from 'node:fs/promises';
import net from 'node:net';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { randomBytes } from 'node:crypto';
import { CreateBucketCommand, S3Client } from '@aws-sdk/client-s3';
import { s3EnvFromRgw, type S3Env } from '../../scripts/s3/env.js';
import { until } from './bounded.js';

const run = promisify(execFile);
const scripts = fileURLToPath(new URL('../../scripts/s3/', import.meta.url));

export interface Gateway {
  readonly env: S3Env;
  readonly port: number;
  client(): S3Client;
  bucket(): Promise<string>;
  /** Kills radosgw (SIGKILL: in-flight requests are cut, new connections refused). */
  stopGateway(): Promise<void>;
  /** Starts radosgw again on the same port and waits until it answers S3. */
  startGateway(): Promise<void>;
  stop(): Promise<void>;
}

export async function startGateway(): Promise<Gateway> {
  const dir = mkdtempSync('/tmp/berth-rgwf-');
  let env: S3Env;
  try {
    const { stdout } = await run('bash', [scripts + 'start-rgw.sh', dir], { timeout: 120_000 });
    env = s3EnvFromRgw(stdout);
  } catch (err) {
    await run('bash', [scripts + 'stop-rgw.sh', dir]).catch(() => undefined);
    throw err;
  }
  const port = Number(new URL(env.S3_ENDPOINT).port);
  const rgwPid = () => Number(/^rgw (\d+)$/m.exec(readFileSync(`${dir}/pids`, 'utf8').split('\n').filter((l) => l.startsWith('rgw ')).at(-1) ?? '')?.[1]);
  const client = () => new S3Client({
    endpoint: env.S3_ENDPOINT, region: env.S3_REGION, forcePathStyle: true,
    credentials: { accessKeyId: env.S3_ACCESS_KEY, secretAccessKey: env.S3_SECRET_KEY },
    requestChecksumCalculation: 'WHEN_REQUIRED', responseChecksumValidation: 'WHEN_REQUIRED',
  });
  const accepts = () => new Promise<boolean>((resolve) => {
    const s = net.connect(port, '127.0.0.1');
    s.once('connect', () => { s.destroy(); resolve(true); });
    s.once('error', () => resolve(false));
  });
  return {
    env,
    port,
    client,
    async bucket() {
      const name = `berth-fault-${randomBytes(5).toString('hex')}`;
      const c = client();
      try {
        await c.send(new CreateBucketCommand({ Bucket: name }));
      } finally {
        c.destroy();
      }
      return name;
    },
    async stopGateway() {
      const pid = rgwPid();
      process.kill(pid, 'SIGKILL');
      await until(10_000, 'radosgw exits', async () => !(await accepts()));
    },
    async startGateway() {
      // As start-rgw.sh starts it: its own session, logs in DIR; stop-rgw.sh finds it through DIR/pids.
      const child = spawn('radosgw', ['-c', `${dir}/ceph.conf`, '-n', 'client.rgw.a', '-f'], {
        detached: true, stdio: 'ignore', env: { ...process.env, CEPH_CONF: `${dir}/ceph.conf`, TMPDIR: `${dir}/tmp` },
      });
      child.unref();
      await appendFile(`${dir}/pids`, `rgw ${child.pid}\n`);
      const c = client();
      try {
        await until(60_000, 'radosgw answers S3 again', async () => {
          try {
            await c.send(new CreateBucketCommand({ Bucket: `berth-probe-${randomBytes(3).toString('hex')}` }));
            return true;
          } catch {
            return false;
          }
        }, 200);
      } finally {
        c.destroy();
      }
    },
    async stop() {
      await run('bash', [scripts + 'stop-rgw.sh', dir]);
    },
  };
}
