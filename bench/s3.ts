/**
 * The S3 server of `npm run bench -- --storage s3`: a throw-away Ceph RADOS Gateway started with
 * scripts/s3/start-rgw.sh (memstore: objects live in the OSD's RAM) unless S3_ENDPOINT,
 * S3_ACCESS_KEY, S3_SECRET_KEY and S3_REGION name one, plus the few S3 calls the bench makes
 * itself (create a bucket, put many small objects, empty and delete a bucket).
 *
 * Those calls are signed with the driver's signer (src/storage/driver/s3/sigv4.ts, UNSIGNED-PAYLOAD)
 * and sent over node:http rather than through the AWS SDK: filling a bucket with tens of thousands of link files is then limited by
 * the S3 server, not by the SDK's per-request CPU on a 2-core machine (measured: the SDK client
 * took 75% of a core at ~190 PUT/s; this one 12% at ~400 PUT/s, RGW and the OSD using the rest).
 */
import { execFile } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync } from 'node:fs';
import { Agent as HttpAgent, request as httpRequest, type IncomingMessage } from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

import { s3EnvFromProcess, s3EnvFromRgw, type S3Env } from '../scripts/s3/env.js';
import { canonicalQuery, SigV4, uriEncode } from '../src/storage/driver/s3/sigv4.js';
import { treeTicks } from './noise.js';

const SCRIPTS = join(resolve(dirname(fileURLToPath(import.meta.url)), '..'), 'scripts', 's3');

/** The s3 driver keys both registries get (Distribution's names; Berth reads the same). */
export interface S3DriverParams {
  region: string;
  regionendpoint: string;
  bucket: string;
  accesskey: string;
  secretkey: string;
  /** Any other storage.s3 key (npm run bench -- --s3-param). */
  [key: string]: string | number;
}

export interface S3Service {
  endpoint: string;
  region: string;
  /** 'rgw' when started here, 'external' when taken from S3_ENDPOINT. */
  origin: 'rgw' | 'external';
  /** A new empty bucket named `berth-bench-<label>-<random>`. */
  createBucket(label: string): Promise<string>;
  params(bucket: string): S3DriverParams;
  /** PUT every [key, body] with `concurrency` requests in flight; progress through `log`. */
  putMany(bucket: string, objects: Array<[string, Buffer]>, concurrency: number, log: (m: string) => void): Promise<void>;
  /** One signed request (path-style `/bucket/key`), for timing the store itself; its status. */
  request(method: string, path: string, query?: Record<string, string>): Promise<number>;
  /**
   * CPU seconds the S3 server's daemons have used so far, by role (`rgw`, `osd`, `mon`), for an
   * RGW started here; undefined for an external server. The store shares the machine's cores
   * with the registry under test: its CPU per GiB tells how fast a push can go at best.
   */
  storeCpu(): Record<string, number> | undefined;
  /** Stop RGW (started here) or empty and delete the buckets made here (external server). */
  stop(keep: boolean): Promise<void>;
}

/** USER_HZ ticks → seconds. */
const TICKS = 100;

/** The CPU seconds of the daemons start-rgw.sh recorded in DIR/pids ("role pid" per line), by role. */
function daemonCpu(dir: string): Record<string, number> {
  const out: Record<string, number> = {};
  for (const line of readFileSync(join(dir, 'pids'), 'utf8').split('\n')) {
    const [role, pid] = line.trim().split(' ');
    if (!role || !pid) continue;
    try {
      out[role] = (out[role] ?? 0) + treeTicks(Number(pid)) / TICKS;
    } catch {
      // a daemon gone: counts nothing
    }
  }
  return out;
}

interface S3Reply {
  status: number;
  body: Buffer;
}


class S3Client {
  private readonly url: URL;
  private readonly agent: HttpAgent;
  private readonly signer: SigV4;

  constructor(
    endpoint: string,
    region: string,
    private readonly accessKey: string,
    private readonly secretKey: string,
  ) {
    this.url = new URL(endpoint);
    const opts = { keepAlive: true, maxSockets: 256 };
    this.agent = this.url.protocol === 'https:' ? new HttpsAgent(opts) : new HttpAgent(opts);
    this.signer = new SigV4(region);
  }

  /** One path-style request, signed; `path` is `/bucket` or `/bucket/key` unencoded. */
  send(method: string, path: string, query: Record<string, string> = {}, body?: Buffer, headers: Record<string, string> = {}): Promise<S3Reply> {
    const uri = path.split('/').map(uriEncode).join('/');
    const qs = canonicalQuery(query);
    const signed: Record<string, string> = { host: this.url.host };
    this.signer.sign(method, uri, qs, signed, 'UNSIGNED-PAYLOAD', { accessKeyId: this.accessKey, secretAccessKey: this.secretKey });
    const request = this.url.protocol === 'https:' ? httpsRequest : httpRequest;
    return new Promise((resolveReply, reject) => {
      const req = request(
        {
          protocol: this.url.protocol,
          hostname: this.url.hostname,
          port: this.url.port,
          method,
          path: qs ? `${uri}?${qs}` : uri,
          agent: this.agent,
          timeout: 60_000,
          headers: { ...headers, ...signed, 'content-length': body ? body.length : 0 },
        },
        (res: IncomingMessage) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('error', reject);
          res.on('end', () => resolveReply({ status: res.statusCode ?? 0, body: Buffer.concat(chunks) }));
        },
      );
      req.on('timeout', () => req.destroy(new Error(`S3 ${method} ${path}: no answer within 60 s`)));
      req.on('error', reject);
      req.end(body);
    });
  }

  async expect(what: string, ok: number[], ...args: Parameters<S3Client['send']>): Promise<S3Reply> {
    const r = await this.send(...args);
    if (!ok.includes(r.status)) throw new Error(`S3 ${what}: status ${r.status} ${r.body.toString('utf8').slice(0, 200)}`);
    return r;
  }

  destroy(): void {
    this.agent.destroy();
  }
}

function xmlValues(xml: string, tag: string): string[] {
  const out: string[] = [];
  const re = new RegExp(`<${tag}>([^<]*)</${tag}>`, 'g');
  for (let m = re.exec(xml); m; m = re.exec(xml)) {
    out.push(m[1]!.replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&quot;/g, '"').replace(/&apos;/g, "'").replace(/&amp;/g, '&'));
  }
  return out;
}

const xmlEscape = (s: string): string => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

/** Delete every object and unfinished multipart upload of `bucket`, then the bucket. */
async function deleteBucket(client: S3Client, bucket: string): Promise<void> {
  for (;;) {
    const list = await client.expect('list', [200], 'GET', `/${bucket}`, { 'list-type': '2', 'max-keys': '1000' });
    const keys = xmlValues(list.body.toString('utf8'), 'Key');
    if (!keys.length) break;
    const body = Buffer.from(`<Delete><Quiet>true</Quiet>${keys.map((k) => `<Object><Key>${xmlEscape(k)}</Key></Object>`).join('')}</Delete>`);
    await client.expect('delete objects', [200], 'POST', `/${bucket}`, { delete: '' }, body, {
      'content-md5': createHash('md5').update(body).digest('base64'),
      'content-type': 'application/xml',
    });
  }
  const uploads = await client.expect('list uploads', [200], 'GET', `/${bucket}`, { uploads: '' });
  const xml = uploads.body.toString('utf8');
  const ukeys = xmlValues(xml, 'Key');
  const ids = xmlValues(xml, 'UploadId');
  for (let i = 0; i < ids.length; i++) await client.expect('abort upload', [204, 404], 'DELETE', `/${bucket}/${ukeys[i]}`, { uploadId: ids[i]! });
  await client.expect('delete bucket', [204, 404], 'DELETE', `/${bucket}`);
}

function run(cmd: string, args: string[], env: NodeJS.ProcessEnv, timeoutMs: number): Promise<string> {
  return new Promise((resolveOut, reject) => {
    execFile(cmd, args, { env, timeout: timeoutMs, encoding: 'utf8' }, (err, stdout, stderr) => {
      if (err) reject(new Error(`${cmd} ${args.join(' ')} failed: ${err.message}\n${stderr}`));
      else resolveOut(stdout);
    });
  });
}

export interface StartS3Options {
  log(message: string): void;
  /** OSD capacity for a started RGW (writes hang, not fail, past it). */
  storeBytes: number;
}

/**
 * The S3 server: S3_ENDPOINT (+ S3_ACCESS_KEY, S3_SECRET_KEY, S3_REGION) when set, else a new RGW.
 * `onStarted` gets the stop function as soon as daemons may exist, so a signal during start-up
 * still stops them.
 */
export async function startS3(opts: StartS3Options, onStarted: (stop: () => Promise<void>) => void): Promise<S3Service> {
  let env: S3Env;
  let dir: string | undefined;
  let stopRgw = async (_keep: boolean): Promise<void> => undefined;
  const fromProcess = s3EnvFromProcess();
  if (fromProcess) {
    env = fromProcess;
    opts.log(`S3: ${env.S3_ENDPOINT} (from S3_ENDPOINT)`);
  } else {
    // Short and plain: the daemons' unix sockets live under it (start-rgw.sh checks).
    dir = mkdtempSync('/tmp/berth-bench-rgw-');
    const rgwDir = dir;
    let stopped = false;
    stopRgw = async (keep: boolean) => {
      if (stopped) return;
      stopped = true;
      const stopEnv = { ...process.env, RGW_STOP_GRACE: '0', ...(keep ? { RGW_KEEP_DIR: '1' } : {}) };
      await run('bash', [join(SCRIPTS, 'stop-rgw.sh'), rgwDir], stopEnv, 30_000);
      if (keep) opts.log(`kept RGW's logs in ${rgwDir}`);
    };
    onStarted(() => stopRgw(false));
    const t0 = performance.now();
    const out = await run('bash', [join(SCRIPTS, 'start-rgw.sh'), dir], { ...process.env, RGW_STORE_BYTES: String(opts.storeBytes) }, 150_000);
    env = s3EnvFromRgw(out);
    opts.log(`S3: Ceph RGW on ${env.S3_ENDPOINT} (started in ${((performance.now() - t0) / 1000).toFixed(1)} s, files in ${dir})`);
  }
  const client = new S3Client(env.S3_ENDPOINT, env.S3_REGION, env.S3_ACCESS_KEY, env.S3_SECRET_KEY);
  const buckets: string[] = [];
  const service: S3Service = {
    endpoint: env.S3_ENDPOINT,
    region: env.S3_REGION,
    origin: dir ? 'rgw' : 'external',
    async createBucket(label) {
      const name = `berth-bench-${label}-${randomBytes(4).toString('hex')}`;
      await client.expect(`create bucket ${name}`, [200], 'PUT', `/${name}`);
      buckets.push(name);
      return name;
    },
    params(bucket) {
      return { region: env.S3_REGION, regionendpoint: env.S3_ENDPOINT, bucket, accesskey: env.S3_ACCESS_KEY, secretkey: env.S3_SECRET_KEY };
    },
    async putMany(bucket, objects, concurrency, log) {
      let next = 0;
      let done = 0;
      let lastLog = performance.now();
      const t0 = lastLog;
      const workers = Array.from({ length: Math.min(concurrency, objects.length) }, async () => {
        while (next < objects.length) {
          const [key, body] = objects[next++]!;
          for (let attempt = 1; ; attempt++) {
            try {
              await client.expect(`PUT ${key}`, [200], 'PUT', `/${bucket}/${key}`, {}, body);
              break;
            } catch (err) {
              if (attempt >= 3) throw err;
              await new Promise((r) => setTimeout(r, 200 * attempt));
            }
          }
          done++;
          if (performance.now() - lastLog > 10_000) {
            lastLog = performance.now();
            const s = (lastLog - t0) / 1000;
            log(`  ${done} of ${objects.length} objects in ${s.toFixed(0)} s (${(done / s).toFixed(0)}/s)`);
          }
        }
      });
      await Promise.all(workers);
    },
    async request(method, path, query) {
      return (await client.send(method, path, query)).status;
    },
    storeCpu() {
      return dir ? daemonCpu(dir) : undefined;
    },
    async stop(keep) {
      try {
        if (!dir && !keep) {
          for (const b of buckets.splice(0)) {
            await deleteBucket(client, b).catch((err: unknown) => opts.log(`could not delete bucket ${b}: ${String(err)}`));
          }
        } else if (!dir && keep) {
          opts.log(`kept buckets ${buckets.join(', ')} on ${env.S3_ENDPOINT}`);
        }
      } finally {
        client.destroy();
        await stopRgw(keep);
      }
    },
  };
  return service;
}
