/**
 * Scenario 7: a page of the tag list of a repository with many tags, and a page of the catalog
 * of many repositories, each GET timed several times (median). Seeding goes through the API:
 * one image tagged N times; N repositories made by cross-repository mounts + manifest PUT.
 * Checks: page size, order, names drawn from what was seeded. After the last repetition the bench
 * writes a tag and a repository straight into the server's root, as another registry process
 * sharing the storage would, and checks that the listings show them.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Agent } from 'node:http';
import { expectStatus, mountBlob, pool, putManifest, send, type Reply } from '../client.js';
import { median, seedImage, type SeededImage, type Sample, type Scenario } from '../scenario.js';
import type { RunningProcess } from '../servers.js';

const TAG_REPO = 'bench/tags';
const CATALOG_PREFIX = 'bench-catalog/r';
const EXTERNAL_TAG = 'a-external';
const EXTERNAL_REPO = 'bench-catalog/a-external';
const SEED_CONCURRENCY = 8;

const tagName = (i: number): string => `t${String(i).padStart(5, '0')}`;
const repoName = (i: number): string => `${CATALOG_PREFIX}${String(i).padStart(5, '0')}`;

const tagsSeeded = new Set<string>();
const reposSeeded = new Set<string>();

async function seedTags(server: RunningProcess, count: number): Promise<SeededImage> {
  const agent = new Agent({ keepAlive: true, maxSockets: SEED_CONCURRENCY });
  const image = await seedImage(server, TAG_REPO, agent);
  if (!tagsSeeded.has(server.url)) {
    const names = Array.from({ length: count }, (_, i) => tagName(i));
    await pool(names, SEED_CONCURRENCY, (tag) => putManifest(server.url, TAG_REPO, tag, image.manifest, agent));
    tagsSeeded.add(server.url);
  }
  agent.destroy();
  return image;
}

async function seedRepos(server: RunningProcess, count: number): Promise<void> {
  const image = await seedTags(server, 0);
  if (reposSeeded.has(server.url)) return;
  const agent = new Agent({ keepAlive: true, maxSockets: SEED_CONCURRENCY });
  const names = Array.from({ length: count }, (_, i) => repoName(i));
  await pool(names, SEED_CONCURRENCY, async (repo) => {
    for (const d of [image.config, image.layer]) {
      if (!(await mountBlob(server.url, repo, d.digest, TAG_REPO, agent))) {
        throw new Error(`${server.name} did not mount ${d.digest} into ${repo}`);
      }
    }
    await putManifest(server.url, repo, 'latest', image.manifest, agent);
  });
  agent.destroy();
  reposSeeded.add(server.url);
}

/** Write a link file the way the filesystem layout stores it (Distribution's paths.go layout). */
function writeLink(root: string, path: string, digest: string): void {
  const full = join(root, 'docker/registry/v2/repositories', path, 'link');
  mkdirSync(join(full, '..'), { recursive: true });
  writeFileSync(full, digest);
}

function hexOf(digest: string): string {
  return digest.slice('sha256:'.length);
}

function writeExternalTag(server: RunningProcess, image: SeededImage, repo: string, tag: string): void {
  writeLink(server.root, `${repo}/_manifests/tags/${tag}/current`, image.manifestDigest);
  writeLink(server.root, `${repo}/_manifests/tags/${tag}/index/sha256/${hexOf(image.manifestDigest)}`, image.manifestDigest);
}

function writeExternalRepo(server: RunningProcess, image: SeededImage, repo: string): void {
  for (const d of [image.config, image.layer]) writeLink(server.root, `${repo}/_layers/sha256/${hexOf(d.digest)}`, d.digest);
  writeLink(server.root, `${repo}/_manifests/revisions/sha256/${hexOf(image.manifestDigest)}`, image.manifestDigest);
  writeExternalTag(server, image, repo, 'latest');
}

/**
 * The first GET after `idleMs` of quiet (`firstMs`), then two warm-up GETs and
 * `samples` timed ones back to back (`ms`, the median).
 */
async function timeGets(url: string, samples: number, idleMs: number): Promise<{ ms: number; firstMs: number; last: Reply }> {
  await new Promise((r) => setTimeout(r, idleMs));
  const agent = new Agent({ keepAlive: true, maxSockets: 1 });
  let last: Reply | undefined;
  const times: number[] = [];
  let firstMs = NaN;
  for (let i = 0; i < samples + 3; i++) {
    const t0 = performance.now();
    const r = await send({ method: 'GET', url, agent });
    const ms = performance.now() - t0;
    expectStatus(r, 200, `GET ${url}`);
    if (i === 0) firstMs = ms;
    if (i >= 3) times.push(ms);
    last = r;
  }
  agent.destroy();
  return { ms: median(times), firstMs, last: last! };
}

const EXTERNAL_WAIT_MS = 5000;

/** Poll a full listing until `name` shows; how long that took, or undefined after EXTERNAL_WAIT_MS. */
async function visibleAfter(list: () => Promise<string[]>, name: string): Promise<{ ms: number | undefined; names: string[] }> {
  const t0 = performance.now();
  for (;;) {
    const names = await list();
    const ms = performance.now() - t0;
    if (names.includes(name)) return { ms, names };
    if (ms > EXTERNAL_WAIT_MS) return { ms: undefined, names };
    await new Promise((r) => setTimeout(r, 50));
  }
}

function isSorted(list: string[]): boolean {
  for (let i = 1; i < list.length; i++) if (list[i - 1]! > list[i]!) return false;
  return true;
}

/** Every name across all pages (following Link rel="next"). */
async function listAll(server: RunningProcess, first: string, key: 'tags' | 'repositories'): Promise<string[]> {
  const all: string[] = [];
  let url: string | undefined = first;
  for (let page = 0; url && page < 10_000; page++) {
    const r = await send({ method: 'GET', url });
    expectStatus(r, 200, `GET ${url}`);
    all.push(...((JSON.parse(r.body.toString('utf8')) as Record<string, string[]>)[key] ?? []));
    const raw = r.headers.link;
    const link = Array.isArray(raw) ? raw.join(', ') : raw;
    const m = link ? /<([^>]+)>/.exec(link) : null;
    url = m ? new URL(m[1]!, server.url).toString() : undefined;
  }
  return all;
}

function checkPage(names: string[], n: number, total: number, valid: (s: string) => boolean, what: string, notes: string[]): number {
  let errors = 0;
  const bad = names.filter((s) => !valid(s));
  if (bad.length) {
    errors++;
    notes.push(`${what}: unexpected names ${bad.slice(0, 3).join(', ')}`);
  }
  if (names.length > n) notes.push(`${what}: returned ${names.length} entries for n=${n} (ignores n)`);
  else if (names.length < Math.min(n, total)) {
    errors++;
    notes.push(`${what}: returned ${names.length} entries for n=${n}, ${total} exist`);
  }
  if (!isSorted(names)) notes.push(`${what}: not sorted`);
  return errors;
}

export const tagListScenario: Scenario = {
  name: 'tag-list',
  title: 'tag list page',
  metrics: [
    { key: 'ms', unit: 'ms', better: 'lower', digits: 2, target: { ratio: 0.5 } },
    { key: 'first ms', unit: 'ms, first after idle', better: 'lower', digits: 2, target: { ratio: 0.5 } },
  ],
  async prepare(server, ctx) {
    await seedTags(server, ctx.sizes.tags);
  },
  async run(server, ctx, rep): Promise<Sample> {
    const { tags, pageSize, listingSamples, listingIdleMs, reps } = ctx.sizes;
    const url = `${server.url}/v2/${TAG_REPO}/tags/list?n=${pageSize}`;
    const { ms, firstMs, last } = await timeGets(url, listingSamples, listingIdleMs);
    const notes: string[] = [];
    const names = (JSON.parse(last.body.toString('utf8')) as { tags?: string[] }).tags ?? [];
    let errors = checkPage(names, pageSize, tags + 1, (t) => /^t\d{5}$/.test(t) || t === 'latest', 'tag list', notes);
    if (rep === reps - 1) {
      writeExternalTag(server, await seedTags(server, 0), TAG_REPO, EXTERNAL_TAG);
      const seen = await visibleAfter(() => listAll(server, url, 'tags'), EXTERNAL_TAG);
      if (seen.ms === undefined) {
        errors++;
        notes.push(`a tag written to the root by another process was still missing from the tag list after ${EXTERNAL_WAIT_MS} ms`);
      } else {
        notes.push(`a tag written to the root by another process showed in the tag list after ${seen.ms.toFixed(0)} ms`);
        if (seen.names.length !== tags + 2) notes.push(`tag list: ${seen.names.length} tags over all pages, expected ${tags + 2}`);
      }
    }
    return { values: { ms, 'first ms': firstMs }, errors, notes };
  },
};

export const catalogScenario: Scenario = {
  name: 'catalog',
  title: 'catalog page',
  metrics: [
    { key: 'ms', unit: 'ms', better: 'lower', digits: 2, target: { ratio: 0.5 } },
    { key: 'first ms', unit: 'ms, first after idle', better: 'lower', digits: 2, target: { ratio: 0.5 } },
  ],
  async prepare(server, ctx) {
    await seedRepos(server, ctx.sizes.repos);
  },
  async run(server, ctx, rep): Promise<Sample> {
    const { repos, pageSize, listingSamples, listingIdleMs, reps } = ctx.sizes;
    const url = `${server.url}/v2/_catalog?n=${pageSize}`;
    const { ms, firstMs, last } = await timeGets(url, listingSamples, listingIdleMs);
    const notes: string[] = [];
    const names = (JSON.parse(last.body.toString('utf8')) as { repositories?: string[] }).repositories ?? [];
    let errors = checkPage(names, pageSize, repos, (r) => r.startsWith('bench'), 'catalog', notes);
    if (!last.headers.link && repos > pageSize) notes.push('catalog: no Link header to the next page');
    if (rep === reps - 1) {
      writeExternalRepo(server, await seedTags(server, 0), EXTERNAL_REPO);
      const seen = await visibleAfter(() => listAll(server, url, 'repositories'), EXTERNAL_REPO);
      if (seen.ms === undefined) {
        errors++;
        notes.push(`a repository written to the root by another process was still missing from the catalog after ${EXTERNAL_WAIT_MS} ms`);
      } else {
        notes.push(`a repository written to the root by another process showed in the catalog after ${seen.ms.toFixed(0)} ms`);
      }
    }
    return { values: { ms, 'first ms': firstMs }, errors, notes };
  },
};
