/**
 * The web UI's pages (issue 15): the server time of the repositories page at 10,000 repositories
 * and of a tag page of a 5,000-tag repository, the first page and a middle one (50 rows each),
 * warm (after three unmeasured GETs), the median of `listingSamples` GETs back to back on one
 * keep-alive connection; on S3 on a fresh instance per repetition, whose first request is
 * reported apart (`cold`). Back to back, those GETs mostly fall within one berth.metadatattl
 * (1 s); Berth's first tag page is also timed as a person views it (`tags paced`), each GET
 * 1.1 s after the last, when every tag target read before is past its ttl.
 *
 * The server's CPU time per page (user + system, all threads, from /proc) is reported beside: it holds when
 * other work loads the machine, where times do not.
 *
 * Distribution has no UI. Beside Berth it is timed doing what a UI on top of it (Joxit's or
 * klausmeyer's) must do for the same page: the catalog page with `n` (and `last` for the middle
 * page, which such a UI reaches by following Link once per page before it); for a tag page the
 * whole tag list (2.8.2 ignores `n`), then for each of the 50 tags shown its index, both platform
 * manifests and both configs: 251 requests, six at a time as a browser sends them. Its pages
 * take seconds, so it gets one warm-up and three timed rounds per page (Berth three and
 * `listingSamples`).
 *
 * The layout is written straight into each server's root (filesystem) or one bucket both read
 * (S3): 10,000 repositories `ui/team<k>/app-<i>` tagged `latest`, and `ui/big` with 5,000 tags
 * over 50 two-platform indexes whose manifests and configs are stored (layers are named, never read).
 */
import { createHash } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { Agent } from 'node:http';
import { dirname, join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { expectStatus, send, type FullReply } from '../client.js';
import { median, type Context, type Metric, type Sample, type Scenario } from '../scenario.js';
import { processCpuSeconds, type RunningProcess } from '../servers.js';
import type { ServerName } from '../options.js';

const ROOT = 'docker/registry/v2';
const BIG = 'ui/big';
const INDEXES = 50;
const PAGE = 50;
const BROWSER_CONNECTIONS = 6;
/** Berth's first tag page is also timed this many times, each PACED_GAP_MS after the last (past berth.metadatattl). */
const PACED_SAMPLES = 5;
const PACED_GAP_MS = 1100;

const sha256 = (b: Buffer): string => `sha256:${createHash('sha256').update(b).digest('hex')}`;
const repoName = (i: number): string => `ui/team${String(i % 100).padStart(2, '0')}/app-${String(i).padStart(5, '0')}`;
const tagName = (i: number): string => `v${Math.floor(i / 100)}.${i % 100}.0`;

interface Layout {
  objects: Array<[string, Buffer]>;
  repos: string[];
  tags: string[];
}

function blobKey(digest: string): string {
  const hex = digest.slice(7);
  return `${ROOT}/blobs/sha256/${hex.slice(0, 2)}/${hex}/data`;
}

export function layout(repos: number, tags: number): Layout {
  const objects: Array<[string, Buffer]> = [];
  const link = (repo: string, path: string, digest: string) => objects.push([`${ROOT}/repositories/${repo}/${path}/link`, Buffer.from(digest)]);
  const indexes: string[] = [];
  const platformManifests: string[] = [];
  const configs: string[] = [];
  for (let k = 0; k < INDEXES; k++) {
    const children = ['amd64', 'arm64'].map((architecture) => {
      const config = Buffer.from(JSON.stringify({ architecture, os: 'linux', created: new Date(Date.UTC(2024, 0, 1 + k)).toISOString(), config: { Env: ['PATH=/usr/bin'], Cmd: ['/app'] }, rootfs: { type: 'layers', diff_ids: [] }, history: [{ created_by: `build ${k}` }] }));
      const layer = { mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', digest: `sha256:${createHash('sha256').update(`layer ${k} ${architecture}`).digest('hex')}`, size: 5_000_000 + k };
      const manifest = Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: 'application/vnd.oci.image.manifest.v1+json', config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: sha256(config), size: config.length }, layers: [layer] }));
      objects.push([blobKey(sha256(config)), config], [blobKey(sha256(manifest)), manifest]);
      platformManifests.push(sha256(manifest));
      configs.push(sha256(config));
      return { mediaType: 'application/vnd.oci.image.manifest.v1+json', digest: sha256(manifest), size: manifest.length, platform: { architecture, os: 'linux' } };
    });
    const index = Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: 'application/vnd.oci.image.index.v1+json', manifests: children }));
    objects.push([blobKey(sha256(index)), index]);
    indexes.push(sha256(index));
  }
  const names = Array.from({ length: repos }, (_, i) => repoName(i));
  names.forEach((repo, i) => {
    const d = indexes[i % INDEXES]!;
    // Distribution 2.8.2 counts a folder as a repository by its _layers folder.
    link(repo, `_layers/sha256/${configs[(i % INDEXES) * 2]!.slice(7)}`, configs[(i % INDEXES) * 2]!);
    link(repo, `_manifests/revisions/sha256/${d.slice(7)}`, d);
    link(repo, `_manifests/tags/latest/current`, d);
    link(repo, `_manifests/tags/latest/index/sha256/${d.slice(7)}`, d);
  });
  for (const d of [...indexes, ...platformManifests]) link(BIG, `_manifests/revisions/sha256/${d.slice(7)}`, d);
  // Distribution serves a blob only through the repository's _layers link.
  for (const d of configs) link(BIG, `_layers/sha256/${d.slice(7)}`, d);
  const tagNames = Array.from({ length: tags }, (_, i) => tagName(i));
  tagNames.forEach((tag, i) => {
    const d = indexes[i % INDEXES]!;
    link(BIG, `_manifests/tags/${tag}/current`, d);
    link(BIG, `_manifests/tags/${tag}/index/sha256/${d.slice(7)}`, d);
  });
  const byCodeUnit = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);
  return { objects, repos: [...names, BIG].sort(byCodeUnit), tags: tagNames.sort(byCodeUnit) };
}

/** The issue's sizes (10,000 and 5,000); --quick's small ones when those are below 1000. */
let built: Layout | undefined;
// At least three pages of each, so that a middle page exists and is not the first (--quick's 60 are not).
const small = (n: number): number => Math.max(n, 3 * PAGE);
const layoutFor = (ctx: Context): Layout => (built ??= layout(ctx.sizes.repos < 1000 ? small(ctx.sizes.repos) : 10_000, ctx.sizes.tags < 1000 ? small(ctx.sizes.tags) : 5_000));
let bucket: Promise<string> | undefined;

/** The four pages, as Berth's endpoints and as what a UI must ask Distribution for. */
const PAGES = ['repos first', 'repos middle', 'tags first', 'tags middle'] as const;
type PageName = (typeof PAGES)[number];

function berthPath(page: PageName, l: Layout): string {
  const middleRepos = Math.floor(l.repos.length / 2 / PAGE) * PAGE;
  const middleTags = Math.floor(l.tags.length / 2 / PAGE) * PAGE;
  switch (page) {
    case 'repos first':
      return `/v2/_berth/repositories?n=${PAGE}`;
    case 'repos middle':
      return `/v2/_berth/repositories?n=${PAGE}&offset=${middleRepos}`;
    case 'tags first':
      return `/v2/_berth/repositories/${BIG}?n=${PAGE}`;
    case 'tags middle':
      return `/v2/_berth/repositories/${BIG}?n=${PAGE}&offset=${middleTags}`;
  }
}

/** One Berth page GET, checked: 50 entries, the expected names, two platforms per tag. */
async function berthPage(base: string, page: PageName, l: Layout, agent: Agent): Promise<void> {
  const r = await send({ method: 'GET', url: `${base}${berthPath(page, l)}`, agent });
  expectStatus(r, 200, page);
  const body = JSON.parse(r.body.toString('utf8')) as { total?: number; repositories?: Array<{ name: string }>; tags?: Array<{ name: string; platforms: unknown[] }> };
  const offset = page.endsWith('middle') ? Math.floor(l.tags.length / 2 / PAGE) * PAGE : 0;
  if (page.startsWith('repos')) {
    // On the filesystem the root may hold other scenarios' repositories too: a full, sorted page of a catalog at least this long.
    const names = body.repositories?.map((x) => x.name) ?? [];
    if (names.length !== PAGE || names.some((x, i) => i > 0 && names[i - 1]! >= x) || (body.total ?? 0) < l.repos.length) throw new Error(`${page}: ${names.length} names of ${body.total} (expected ${PAGE} of at least ${l.repos.length}, sorted)`);
    return;
  }
  const names = body.tags?.map((x) => x.name);
  const expected = l.tags.slice(offset, offset + PAGE);
  if (JSON.stringify(names) !== JSON.stringify(expected)) throw new Error(`${page}: got ${names?.slice(0, 2).join(', ')}…, expected ${expected.slice(0, 2).join(', ')}…`);
  if (page.startsWith('tags') && !body.tags!.every((t) => t.platforms.length === 2)) throw new Error(`${page}: a tag without its two platforms`);
}

/** The requests a UI on Distribution sends for the same page (see the header). */
async function distributionPage(base: string, page: PageName, l: Layout, agent: Agent): Promise<void> {
  const get = async (path: string, accept?: string): Promise<FullReply> => {
    const r = await send({ method: 'GET', url: `${base}${path}`, agent, headers: accept ? { Accept: accept } : {} });
    expectStatus(r, 200, path);
    return r;
  };
  if (page.startsWith('repos')) {
    const last = page === 'repos middle' ? `&last=${encodeURIComponent(l.repos[Math.floor(l.repos.length / 2 / PAGE) * PAGE - 1]!)}` : '';
    const names = (JSON.parse((await get(`/v2/_catalog?n=${PAGE}${last}`)).body.toString('utf8')) as { repositories: string[] }).repositories;
    if (names.length !== PAGE) throw new Error(`${page}: Distribution listed ${names.length} repositories, expected ${PAGE}`);
    return;
  }
  const all = (JSON.parse((await get(`/v2/${BIG}/tags/list`)).body.toString('utf8')) as { tags: string[] }).tags.sort();
  const offset = page === 'tags middle' ? Math.floor(all.length / 2 / PAGE) * PAGE : 0;
  const accept = 'application/vnd.oci.image.index.v1+json, application/vnd.oci.image.manifest.v1+json';
  const work: Array<() => Promise<unknown>> = all.slice(offset, offset + PAGE).map((tag) => async () => {
    const index = JSON.parse((await get(`/v2/${BIG}/manifests/${tag}`, accept)).body.toString('utf8')) as { manifests: Array<{ digest: string }> };
    await Promise.all(
      index.manifests.map(async (m) => {
        const manifest = JSON.parse((await get(`/v2/${BIG}/manifests/${m.digest}`, accept)).body.toString('utf8')) as { config: { digest: string } };
        await get(`/v2/${BIG}/blobs/${manifest.config.digest}`);
      }),
    );
  });
  let next = 0;
  await Promise.all(Array.from({ length: BROWSER_CONNECTIONS }, async () => {
    while (next < work.length) await work[next++]!();
  }));
}

/** Waits until the catalog shows the repositories written behind a running server's back (its kept listing reloads). */
async function catalogHolds(base: string, count: number, agent: Agent): Promise<void> {
  for (let i = 0; i < 600; i++) {
    const r = await send({ method: 'GET', url: `${base}/v2/_berth/repositories?n=1`, agent });
    if (r.status === 200 && ((JSON.parse(r.body.toString('utf8')) as { total: number }).total ?? 0) >= count) return;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`the catalog did not reach ${count} repositories in 60 s`);
}

async function timed(fn: () => Promise<void>): Promise<number> {
  const t0 = performance.now();
  await fn();
  return performance.now() - t0;
}

async function measureAll(base: string, name: string, pid: number, ctx: Context): Promise<Sample> {
  const l = layoutFor(ctx);
  // Berth, with one worker or several, is asked through its UI endpoints; Distribution as a browser UI asks it.
  const berth = name !== 'distribution';
  const agent = new Agent({ keepAlive: true, maxSockets: berth ? 1 : BROWSER_CONNECTIONS });
  const values: Record<string, number> = {};
  const notes: string[] = [];
  try {
    const one = (page: PageName) => (berth ? berthPage(base, page, l, agent) : distributionPage(base, page, l, agent));
    if (berth) await catalogHolds(base, l.repos.length, agent);
    values['cold ms'] = await timed(() => one('repos first'));
    // Distribution's pages take seconds each: fewer rounds of them (the spread shows in the table).
    const warmUps = berth ? 3 : 1;
    const samples = berth ? ctx.sizes.listingSamples : Math.min(3, ctx.sizes.listingSamples);
    for (const page of PAGES) {
      for (let i = 0; i < warmUps; i++) await one(page);
      const times: number[] = [];
      const cpu0 = processCpuSeconds(pid);
      for (let i = 0; i < samples; i++) times.push(await timed(() => one(page)));
      values[`${page} ms`] = median(times);
      values[`${page} cpu ms`] = ((processCpuSeconds(pid) - cpu0) * 1000) / samples;
    }
    if (berth) {
      // As a person views it: each request after the metadata ttl (1 s) has passed. The CPU is
      // the whole time's, so whatever a page has read behind its answer is charged to it.
      const times: number[] = [];
      const cpu0 = processCpuSeconds(pid);
      for (let i = 0; i < PACED_SAMPLES; i++) {
        await sleep(PACED_GAP_MS);
        times.push(await timed(() => one('tags first')));
      }
      await sleep(PACED_GAP_MS);
      values['tags paced ms'] = median(times);
      values['tags paced cpu ms'] = ((processCpuSeconds(pid) - cpu0) * 1000) / PACED_SAMPLES;
    }
  } catch (err) {
    return { values, errors: 1, notes: [err instanceof Error ? err.message : String(err)] };
  } finally {
    agent.destroy();
  }
  return { values, errors: 0, notes };
}

export function writeInto(root: string, objects: Array<[string, Buffer]>): void {
  for (const [key, body] of objects) {
    const file = join(root, key);
    mkdirSync(dirname(file), { recursive: true });
    writeFileSync(file, body);
  }
}

function metrics(max: number): Metric[] {
  return [
    ...PAGES.map((p): Metric => ({ key: `${p} ms`, unit: `ms, ${p}`, better: 'lower', digits: 2, target: { max } })),
    ...PAGES.map((p): Metric => ({ key: `${p} cpu ms`, unit: `server CPU ms, ${p}`, better: 'lower', digits: 2 })),
    { key: 'tags paced ms', unit: 'ms, tags first, 1.1 s apart', better: 'lower', digits: 2, target: { max } },
    { key: 'tags paced cpu ms', unit: 'server CPU ms, tags first, 1.1 s apart (all CPU of the time)', better: 'lower', digits: 2 },
    { key: 'cold ms', unit: 'ms, first request', better: 'lower', digits: 1 },
  ];
}

export const uiScenario: Scenario = {
  name: 'ui',
  title: 'UI pages: 10,000 repositories, a 5,000-tag repository (first and middle page of 50)',
  metrics: metrics(20),
  async prepare(server, ctx) {
    const l = layoutFor(ctx);
    ctx.log(`ui: writing ${l.objects.length} files into ${server.name}'s root`);
    writeInto(server.root, l.objects);
  },
  run: (server, ctx) => measureAll(server.url, server.name, server.pid, ctx),
};

/** --storage s3: one bucket filled once, read by a fresh instance of each server per repetition. */
export const s3UiScenario: Scenario = {
  name: 'ui',
  title: 's3: UI pages: 10,000 repositories, a 5,000-tag repository (first and middle page of 50)',
  metrics: metrics(50),
  async run(server: RunningProcess, ctx: Context, rep: number): Promise<Sample> {
    const s3 = ctx.s3;
    if (!s3 || !ctx.startServer) throw new Error('needs --storage s3');
    bucket ??= (async () => {
      const b = await s3.createBucket('ui');
      const l = layoutFor(ctx);
      ctx.log(`ui: filling bucket ${b} with ${l.objects.length} objects`);
      await s3.putMany(b, l.objects, 192, ctx.log);
      return b;
    })();
    const fresh = await ctx.startServer(server.name as ServerName, await bucket, `ui-${rep + 1}`);
    try {
      return await measureAll(fresh.url, fresh.name, fresh.pid, ctx);
    } finally {
      await fresh.stop();
    }
  },
};
