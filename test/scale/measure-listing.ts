/**
 * Listing at scale on a real S3 server (Ceph RGW, started here unless S3_ENDPOINT is set):
 * fills a bucket with REPOS repositories (Distribution's layout: a tag, its revision link, a
 * layer link each) and one repository with TAGS tags, then times, on the same bucket,
 * GET /v2/_catalog?n=100 and GET /v2/<repo>/tags/list?n=100 against Berth (in this process, metadata
 * cache off so every request reads storage) and Distribution 2.8.2 (/usr/bin/docker-registry, its
 * s3 driver). Best of ROUNDS.
 *
 *   node --no-warnings --import tsx test/scale/measure-listing.ts [REPOS=2000] [TAGS=1000] [ROUNDS=3]
 */
import { spawn } from 'node:child_process';
import { writeFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { pino } from 'pino';
import { createDriver } from '../../src/storage/driver/factory.js';
import { parseConfig } from '../../src/config/load.js';
import { startServer } from '../../src/api/server.js';
import { startS3 } from '../helpers/s3.js';
import { freePort } from '../helpers/registry.js';

const [REPOS = 2000, TAGS = 1000, ROUNDS = 3] = process.argv.slice(2).map(Number);
const ROOT = '/docker/registry/v2';
const digestOf = (i: number) => `sha256:${i.toString(16).padStart(64, '0')}`;

const s3 = await startS3();
try {
  const bucket = await s3.bucket();
  const params = s3.params(bucket);
  const driver = await createDriver('s3', params);
  const t0 = performance.now();
  const jobs: Array<[string, string]> = [];
  const manifest = Buffer.from('{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.empty.v1+json","digest":"sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a","size":2},"layers":[]}');
  const { createHash } = await import('node:crypto');
  const md = `sha256:${createHash('sha256').update(manifest).digest('hex')}`;
  await driver.putContent(`${ROOT}/blobs/sha256/${md.slice(7, 9)}/${md.slice(7)}/data`, manifest);
  for (let i = 0; i < REPOS; i++) {
    const repo = `${ROOT}/repositories/team${i % 50}/app-${i}`;
    jobs.push([`${repo}/_manifests/tags/latest/current/link`, md]);
    jobs.push([`${repo}/_manifests/revisions/sha256/${md.slice(7)}/link`, md]);
    jobs.push([`${repo}/_layers/sha256/${digestOf(i).slice(7)}/link`, digestOf(i)]);
  }
  const big = `${ROOT}/repositories/big/many-tags`;
  jobs.push([`${big}/_manifests/revisions/sha256/${md.slice(7)}/link`, md]);
  for (let t = 0; t < TAGS; t++) {
    jobs.push([`${big}/_manifests/tags/v${t}/current/link`, md]);
    jobs.push([`${big}/_manifests/tags/v${t}/index/sha256/${md.slice(7)}/link`, md]);
  }
  let next = 0;
  await Promise.all(Array.from({ length: 32 }, async () => {
    while (next < jobs.length) {
      const [p, v] = jobs[next++]!;
      await driver.putContent(p, Buffer.from(v));
    }
  }));
  console.log(`filled ${jobs.length} objects (${REPOS} repositories + 1 with ${TAGS} tags) in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
  await driver.close!();

  const yamlFor = (addr: string) => [
    'version: 0.1', 'log:', '  level: error', '  accesslog:', '    disabled: true', 'storage:', '  s3:',
    ...Object.entries(params).filter(([k]) => k !== 'requesttimeout').map(([k, v]) => `    ${k}: ${JSON.stringify(v)}`),
    '  redirect:', '    disable: true', 'http:', `  addr: ${addr}`, '  secret: measure', 'berth:', '  metadatattl: 0', '',
  ].join('\n');

  const time = async (url: string) => {
    let best = Infinity;
    let count = 0;
    for (let r = 0; r < ROUNDS; r++) {
      const t = performance.now();
      const res = await fetch(url);
      const body = (await res.json()) as { repositories?: string[]; tags?: string[] };
      best = Math.min(best, performance.now() - t);
      count = (body.repositories ?? body.tags ?? []).length;
      if (res.status !== 200) throw new Error(`${url}: ${res.status}`);
    }
    return `${best.toFixed(0)} ms (${count} names)`;
  };

  const { config } = parseConfig(yamlFor('127.0.0.1:0'), {});
  const berth = await startServer(config, pino({ level: 'silent' }));
  const port = await freePort();
  const cfgPath = path.join(os.tmpdir(), `berth-measure-${process.pid}.yml`);
  await writeFile(cfgPath, yamlFor(`127.0.0.1:${port}`).replace(/berth:\n {2}metadatattl: 0\n/, '').replace('    forcepathstyle: true\n', ''));
  // aws-sdk-go v1 refuses AWS_CA_BUNDLE with its custom transport; the endpoint is plain http anyway.
  const distEnv = { ...process.env };
  delete distEnv.AWS_CA_BUNDLE;
  const dist = spawn('/usr/bin/docker-registry', ['serve', cfgPath], { env: distEnv, stdio: ['ignore', 'ignore', 'pipe'] });
  let distErr = '';
  dist.stderr.on('data', (c: Buffer) => { distErr = (distErr + c.toString()).slice(-2000); });
  const distUrl = `http://127.0.0.1:${port}`;
  for (let i = 0; ; i++) {
    try { if ((await fetch(`${distUrl}/v2/`)).status === 200) break; } catch { /* starting */ }
    if (i > 100) throw new Error(`distribution did not start: ${distErr}`);
    await new Promise((r) => setTimeout(r, 100));
  }
  try {
    for (const [name, url] of [['berth', berth.url], ['distribution 2.8.2', distUrl]] as const) {
      console.log(`${name}: GET /v2/_catalog?n=100 ${await time(`${url}/v2/_catalog?n=100`)}; ` +
        `GET /v2/big/many-tags/tags/list?n=100 ${await time(`${url}/v2/big/many-tags/tags/list?n=100`)}; ` +
        `GET /v2/big/many-tags/tags/list ${await time(`${url}/v2/big/many-tags/tags/list`)}`);
    }
  } finally {
    dist.kill('SIGKILL');
    await berth.close();
    await rm(cfgPath, { force: true });
  }
} finally {
  await s3.stop();
}
