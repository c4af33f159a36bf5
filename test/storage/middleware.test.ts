import assert from 'node:assert/strict';
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { constants, createHash, createVerify, generateKeyPairSync } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { gzipSync } from 'node:zlib';
import { GetObjectCommand } from '@aws-sdk/client-s3';
import { pino } from 'pino';
import { ConfigError, startRegistry, type RunningRegistry } from '../../src/index.js';
import { blob, imageConfig, ociManifest, random } from '../helpers/content.js';
import { pushBlobAt } from '../helpers/push.js';
import { freePort } from '../helpers/registry.js';
import { startS3, type S3Server } from '../helpers/s3.js';

const run = promisify(execFile);
const sha256 = (data: Uint8Array) => `sha256:${createHash('sha256').update(data).digest('hex')}`;
const blobPath = (digest: string) => `/docker/registry/v2/blobs/sha256/${digest.slice(7, 9)}/${digest.slice(7)}/data`;

/** A small OCI image (config + two layers), tagged. */
async function pushImage(url: string, repo: string, tag: string): Promise<string[]> {
  const config = imageConfig();
  // gzip streams, as their media type says (skopeo would recompress what does not look compressed).
  const layers = [blob(gzipSync(random(3000))), blob(gzipSync(random(70_000)))];
  for (const b of [config, ...layers]) await pushBlobAt(url, repo, b.data);
  const m = ociManifest({ config: config.descriptor, layers: layers.map((l) => l.descriptor) });
  const put = await fetch(`${url}/v2/${repo}/manifests/${tag}`, { method: 'PUT', body: new Uint8Array(m.bytes), headers: { 'content-type': m.mediaType } });
  assert.equal(put.status, 201);
  return [config.digest, ...layers.map((l) => l.digest)];
}

/** Log lines written to a pino logger, parsed. */
function capturingLogger(): { logger: pino.Logger; lines: { level: number; msg: string }[] } {
  const lines: { level: number; msg: string }[] = [];
  const sink = new Writable({ write(chunk: Buffer, _e, done) { lines.push(JSON.parse(chunk.toString())); done(); } });
  return { logger: pino({ level: 'warn' }, sink), lines };
}

describe('storage middleware: redirect', () => {
  let work: string;
  let nginx: ChildProcess;
  let nginxUrl: string;
  let registry: RunningRegistry;
  const root = () => path.join(work, 'root');

  before(async () => {
    work = await mkdtemp(path.join(os.tmpdir(), 'berth-redirect-'));
    // nginx serves the storage root under /mirror/ (master_process off: no worker switching to a user that cannot read the temp dir).
    const port = await freePort();
    nginxUrl = `http://127.0.0.1:${port}`;
    const conf = path.join(work, 'nginx.conf');
    await writeFile(conf, `daemon off;
master_process off;
error_log ${work}/error.log;
pid ${work}/nginx.pid;
events {}
http {
  access_log ${work}/access.log;
  client_body_temp_path ${work}/body; proxy_temp_path ${work}/proxy; fastcgi_temp_path ${work}/fastcgi; uwsgi_temp_path ${work}/uwsgi; scgi_temp_path ${work}/scgi;
  server {
    listen 127.0.0.1:${port};
    location /mirror/ { alias ${root()}/; }
  }
}
`);
    nginx = spawn('nginx', ['-p', work, '-c', conf, '-e', `${work}/error.log`], { stdio: 'ignore' });
    for (let i = 0; ; i++) {
      if (await fetch(`${nginxUrl}/`).then(() => true, () => false)) break;
      if (i > 100) throw new Error(`nginx did not start: ${await readFile(`${work}/error.log`, 'utf8').catch(() => '')}`);
      await new Promise((r) => setTimeout(r, 50));
    }
    registry = await startRegistry({
      config: {
        storage: { filesystem: { rootdirectory: root() }, maintenance: { uploadpurging: { enabled: false } } },
        middleware: { storage: [{ name: 'redirect', options: { baseurl: `${nginxUrl}/mirror` } }] },
      },
    });
  });
  after(async () => {
    await registry?.close();
    nginx?.kill('SIGTERM');
    await rm(work, { recursive: true, force: true });
  });

  it('answers blob GET and HEAD with 307 to baseurl + the blob path, where the bytes are served', async () => {
    const data = random(5000);
    const digest = await pushBlobAt(registry.url, 'red/irect', data);
    const expected = `${nginxUrl}/mirror${blobPath(digest)}`;
    for (const method of ['GET', 'HEAD']) {
      const res = await fetch(`${registry.url}/v2/red/irect/blobs/${digest}`, { method, redirect: 'manual' });
      assert.equal(res.status, 307, method);
      assert.equal(res.headers.get('location'), expected, method);
      assert.equal(res.headers.get('docker-content-digest'), digest, method);
    }
    const followed = await fetch(`${registry.url}/v2/red/irect/blobs/${digest}`);
    assert.equal(followed.url, expected);
    assert.equal(sha256(new Uint8Array(await followed.arrayBuffer())), digest);
    // Manifests are not blobs: served by the registry itself.
    const [configDigest] = await pushImage(registry.url, 'red/irect', 'v1');
    const manifest = await fetch(`${registry.url}/v2/red/irect/manifests/v1`, { headers: { accept: 'application/vnd.oci.image.manifest.v1+json' }, redirect: 'manual' });
    assert.equal(manifest.status, 200);
    assert.ok(configDigest);
  });

  it('lets skopeo pull an image through the redirect, every blob fetched from the web server', async () => {
    const digests = await pushImage(registry.url, 'red/image', 'v1');
    const policy = path.join(work, 'policy.json');
    await writeFile(policy, JSON.stringify({ default: [{ type: 'insecureAcceptAnything' }] }));
    const dest = path.join(work, 'pulled');
    const host = new URL(registry.url).host;
    await run('skopeo', ['--policy', policy, 'copy', '--preserve-digests', '--src-tls-verify=false', `docker://${host}/red/image:v1`, `oci:${dest}:v1`], { timeout: 120_000 });
    for (const d of digests) assert.equal(sha256(await readFile(path.join(dest, 'blobs/sha256', d.slice(7)))), d, `${d} pulled intact`);
    const access = await readFile(path.join(work, 'access.log'), 'utf8');
    for (const d of digests) assert.match(access, new RegExp(`"GET /mirror${blobPath(d)} HTTP/1.1" 200 `), `${d} came from nginx`);
  });

  it('is off with storage.redirect.disable, and refuses a baseurl without a host', async () => {
    const direct = await startRegistry({
      config: { storage: { inmemory: null, redirect: { disable: true } }, middleware: { storage: [{ name: 'redirect', options: { baseurl: nginxUrl } }] } },
    });
    try {
      const digest = await pushBlobAt(direct.url, 'r', new TextEncoder().encode('direct'));
      const res = await fetch(`${direct.url}/v2/r/blobs/${digest}`, { redirect: 'manual' });
      assert.equal(res.status, 200);
      assert.equal(await res.text(), 'direct');
    } finally {
      await direct.close();
    }
    await assert.rejects(
      startRegistry({ config: { middleware: { storage: [{ name: 'redirect', options: { baseurl: '/relative' } }] } } }),
      (err: unknown) => err instanceof ConfigError && err.message === 'middleware.storage[0].options.baseurl: invalid URL "/relative" (expected scheme://host[/path])',
    );
  });

  it('warns about unknown, registry and repository middleware and serves on', async () => {
    const { logger, lines } = capturingLogger();
    const r = await startRegistry({
      logger,
      config: { middleware: { storage: [{ name: 'alicdn', options: {} }], registry: [{ name: 'openshift' }], repository: [{ name: 'openshift', disabled: true }] } },
    });
    try {
      const digest = await pushBlobAt(r.url, 'w', new TextEncoder().encode('still served'));
      assert.equal((await fetch(`${r.url}/v2/w/blobs/${digest}`, { redirect: 'manual' })).status, 200);
    } finally {
      await r.close();
    }
    const warnings = lines.map((l) => l.msg);
    assert.ok(warnings.includes('middleware.storage[0]: unknown storage middleware "alicdn" (known: cloudfront, redirect); ignored'), warnings.join('\n'));
    assert.ok(warnings.includes('middleware.registry[0]: registry middleware "openshift" is not available in Berth and is ignored'), warnings.join('\n'));
    assert.ok(!warnings.some((w) => w.startsWith('middleware.repository')), 'a disabled entry is skipped silently');
  });
});

describe('storage middleware: cloudfront', () => {
  let s3: S3Server;
  let work: string;
  let keyFile: string;
  let publicKey: string;

  before(async () => {
    s3 = await startS3();
    work = await mkdtemp(path.join(os.tmpdir(), 'berth-cloudfront-'));
    const pair = generateKeyPairSync('rsa', { modulusLength: 2048 });
    keyFile = path.join(work, 'cloudfront.pem');
    await writeFile(keyFile, pair.privateKey.export({ type: 'pkcs1', format: 'pem' }));
    publicKey = pair.publicKey.export({ type: 'spki', format: 'pem' }).toString();
  });
  after(async () => {
    await s3?.stop();
    await rm(work, { recursive: true, force: true });
  });

  it('redirects blob downloads to baseurl + the object key, signed with the canned policy', async () => {
    const bucket = await s3.bucket();
    const registry = await startRegistry({
      config: {
        storage: { s3: s3.params(bucket, { rootdirectory: '/under/here' }), maintenance: { uploadpurging: { enabled: false } } },
        middleware: { storage: [{ name: 'cloudfront', options: { baseurl: 'd111111abcdef8.cloudfront.net', privatekey: keyFile, keypairid: 'K2JCJMDEHXQW5F', duration: '30m' } }] },
      },
    });
    try {
      const data = random(20_000);
      const digest = await pushBlobAt(registry.url, 'cf/app', data);
      const before = Math.floor(Date.now() / 1000);
      const get = await fetch(`${registry.url}/v2/cf/app/blobs/${digest}`, { redirect: 'manual' });
      const head = await fetch(`${registry.url}/v2/cf/app/blobs/${digest}`, { method: 'HEAD', redirect: 'manual' });
      assert.equal(get.status, 307);
      assert.equal(head.status, 307);
      const url = new URL(get.headers.get('location')!);
      assert.equal(url.origin, 'https://d111111abcdef8.cloudfront.net');
      assert.equal(url.pathname, `/under/here${blobPath(digest)}`);
      // The path is the object's key in the bucket: the origin would serve exactly the blob.
      const client = s3.client();
      try {
        const object = await client.send(new GetObjectCommand({ Bucket: bucket, Key: url.pathname.slice(1) }));
        assert.equal(sha256(await object.Body!.transformToByteArray()), digest);
      } finally {
        client.destroy();
      }
      assert.equal(url.searchParams.get('Key-Pair-Id'), 'K2JCJMDEHXQW5F');
      const expires = Number(url.searchParams.get('Expires'));
      assert.ok(expires >= before + 30 * 60 - 2 && expires <= Math.ceil(Date.now() / 1000) + 30 * 60 + 2, `Expires ${expires} is 30m ahead`);
      // CloudFront's canned policy, signed with SHA-1 RSA; the signature in CloudFront's URL-safe base64.
      const resource = `${url.origin}${url.pathname}`;
      const policy = JSON.stringify({ Statement: [{ Resource: resource, Condition: { DateLessThan: { 'AWS:EpochTime': expires } } }] });
      const signature = Buffer.from(url.searchParams.get('Signature')!.replace(/-/g, '+').replace(/_/g, '=').replace(/~/g, '/'), 'base64');
      assert.ok(createVerify('RSA-SHA1').update(policy).verify({ key: publicKey, padding: constants.RSA_PKCS1_PADDING }, signature), 'the signature verifies with the public key');
      assert.ok(!createVerify('RSA-SHA1').update(policy.replace(String(expires), String(expires + 1))).verify(publicKey, signature), 'and not for another expiry');
    } finally {
      await registry.close();
    }
  });

  it('warns and serves as without it on a driver without object keys; refuses a missing key', async () => {
    const { logger, lines } = capturingLogger();
    const options = { baseurl: 'https://cdn.example', privatekey: keyFile, keypairid: 'K1' };
    const r = await startRegistry({ logger, config: { middleware: { storage: [{ name: 'cloudfront', options }] } } });
    try {
      const digest = await pushBlobAt(r.url, 'm', new TextEncoder().encode('served here'));
      const res = await fetch(`${r.url}/v2/m/blobs/${digest}`, { redirect: 'manual' });
      assert.equal(res.status, 200);
      assert.equal(await res.text(), 'served here');
    } finally {
      await r.close();
    }
    assert.ok(lines.some((l) => l.msg === 'middleware.storage[0]: cloudfront needs a storage driver with object keys (s3); the inmemory driver has none, so blob downloads are served as without it'));
    await assert.rejects(startRegistry({ config: { middleware: { storage: [{ name: 'cloudfront', options: { ...options, privatekey: path.join(work, 'absent.pem') } }] } } }), {
      message: `middleware.storage[0].options.privatekey: cannot read ${path.join(work, 'absent.pem')}: ENOENT`,
    });
    await assert.rejects(startRegistry({ config: { middleware: { storage: [{ name: 'cloudfront', options: { baseurl: 'https://cdn.example', privatekey: keyFile } }] } } }), {
      message: 'middleware.storage[0].options.keypairid: required',
    });
  });
});
