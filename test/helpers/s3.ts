import { execFile } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { randomBytes } from 'node:crypto';
import { CreateBucketCommand, S3Client } from '@aws-sdk/client-s3';
import { s3EnvFromProcess, s3EnvFromRgw } from '../../scripts/s3/env.js';

const run = promisify(execFile);
const scripts = fileURLToPath(new URL('../../scripts/s3/', import.meta.url));

export interface S3Server {
  endpoint: string;
  accessKey: string;
  secretKey: string;
  region: string;
  /** A new empty bucket with a random name. */
  bucket(): Promise<string>;
  /** A plain SDK client on the server, for tests that look at the bucket past the driver; the caller destroys it. */
  client(): S3Client;
  /** The s3 driver parameters for a bucket (and optional root directory). */
  params(bucket: string, extra?: Record<string, unknown>): Record<string, unknown>;
  stop(): Promise<void>;
}

/**
 * The S3 server for a test file: the one named by S3_ENDPOINT (with S3_ACCESS_KEY, S3_SECRET_KEY,
 * S3_REGION) when set, for example by a CI step that started it once for the run; otherwise a
 * throw-away Ceph RGW started here by scripts/s3/start-rgw.sh (about a second) and stopped by stop().
 */
export async function startS3(): Promise<S3Server> {
  let dir: string | undefined;
  let env = s3EnvFromProcess();
  if (!env) {
    dir = mkdtempSync('/tmp/berth-rgw-');
    try {
      const { stdout } = await run('bash', [scripts + 'start-rgw.sh', dir], { timeout: 120_000 });
      env = s3EnvFromRgw(stdout);
    } catch (err) {
      await run('bash', [scripts + 'stop-rgw.sh', dir]).catch(() => undefined);
      throw err;
    }
  }
  const server: S3Server = {
    endpoint: env.S3_ENDPOINT,
    accessKey: env.S3_ACCESS_KEY,
    secretKey: env.S3_SECRET_KEY,
    region: env.S3_REGION,
    client() {
      return new S3Client({
        endpoint: server.endpoint,
        region: server.region,
        forcePathStyle: true,
        credentials: { accessKeyId: server.accessKey, secretAccessKey: server.secretKey },
        requestChecksumCalculation: 'WHEN_REQUIRED',
        responseChecksumValidation: 'WHEN_REQUIRED',
      });
    },
    async bucket() {
      const name = `berth-test-${randomBytes(5).toString('hex')}`;
      const client = server.client();
      try {
        await client.send(new CreateBucketCommand({ Bucket: name }));
      } finally {
        client.destroy();
      }
      return name;
    },
    params(bucket, extra = {}) {
      return {
        region: server.region,
        regionendpoint: server.endpoint,
        forcepathstyle: true,
        bucket,
        accesskey: server.accessKey,
        secretkey: server.secretKey,
        requesttimeout: 60_000,
        ...extra,
      };
    },
    async stop() {
      if (dir) await run('bash', [scripts + 'stop-rgw.sh', dir]);
    },
  };
  return server;
}

/**
 * A registry YAML on the s3 driver with `params` (from S3Server.params) and upload purging off
 * (tests decide when uploads go): `storage` lines go under storage:, `top` lines at the top
 * level (redis:, …).
 */
export function s3RegistryYaml(params: Record<string, unknown>, o: { secret?: string; storage?: string[]; top?: string[] } = {}): string {
  return [
    'version: 0.1',
    'log:',
    '  level: error',
    '  accesslog:',
    '    disabled: true',
    'storage:',
    '  s3:',
    ...Object.entries(params).map(([k, v]) => `    ${k}: ${JSON.stringify(v)}`),
    ...(o.storage ?? []),
    '  maintenance:',
    '    uploadpurging:',
    '      enabled: false',
    ...(o.top ?? []),
    'http:',
    '  addr: {{addr}}',
    ...(o.secret ? [`  secret: ${o.secret}`] : []),
    '',
  ].join('\n');
}
