/**
 * Listings on object storage (--storage s3): GET /v2/_catalog?n=N, the first page of a large
 * tag list (/v2/<repo>/tags/list?n=N) and a later page of it (&last=), on one bucket holding
 * `repos` repositories plus one repository with `tags` tags.
 *
 * The bucket is filled once, directly over S3 (not through a registry), in Distribution's layout,
 * which both servers read: per repository a tag's current link, a revision link and a layer link;
 * for the big repository also a current link and an index link per tag. Every repository needs
 * its `_layers` folder: Distribution 2.8.2's catalog counts a folder as a repository by it (not by
 * `_manifests`). Both servers list the same objects; the bench writes nothing into the bucket
 * afterwards (a server may, e.g. an index of its own).
 *
 * Each repetition starts a new process of the server on that bucket (its default configuration
 * on s3: metadata cache as shipped, no redis) and times the first listing request after start
 * (`cold`), then `listingSamples` more back to back on one keep-alive connection (`warm`, the
 * median); then it stops the process. The cold figure of the first repetition (the first start
 * of that server on the bucket) is reported apart from those of later repetitions (restarts): a
 * server may keep state in the bucket (Berth persists a catalog snapshot), which a restart reads. Every answer, cold and warm, is checked against the names
 * the bench wrote: a page that follows the spec (at most n names, sorted, after `last`) must be
 * exactly the expected one, so both servers return the same page. Distribution 2.8.2 ignores `n`
 * and `last` for tag lists and does not sort them: that is noted, and its answer must then hold
 * exactly all tags.
 */
import { createHash } from 'node:crypto';
import { Agent } from 'node:http';
import { expectStatus, send, type FullReply } from '../client.js';
import { median, type Context, type Sample, type Scenario } from '../scenario.js';
import type { RunningProcess } from '../servers.js';

const ROOT = 'docker/registry/v2';
export const BIG_REPO = 'big/many-tags';
const FILL_CONCURRENCY = 192;

const sha256hex = (b: Buffer | string): string => createHash('sha256').update(b).digest('hex');
const repoName = (i: number): string => `team${i % 50}/app-${i}`;
const tagName = (i: number): string => `v${i}`;
/** A fake layer digest per repository (the listings never read blobs). */
const layerHex = (i: number): string => i.toString(16).padStart(64, '0');

interface Listing {
  bucket: string;
  /** Every repository name, sorted (what a full catalog returns). */
  repos: string[];
  /** Every tag of BIG_REPO, sorted. */
  tags: string[];
}

let filled: Promise<Listing> | undefined;

/** The objects of the layout, as [key, body]. */
function layout(repos: number, tags: number): Array<[string, Buffer]> {
  const config = Buffer.from('{}');
  const configDigest = `sha256:${sha256hex(config)}`;
  const manifest = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: 'application/vnd.oci.image.manifest.v1+json',
      config: { mediaType: 'application/vnd.oci.empty.v1+json', digest: configDigest, size: config.length },
      layers: [],
    }),
  );
  const mhex = sha256hex(manifest);
  const md = Buffer.from(`sha256:${mhex}`);
  const blob = (hex: string): string => `${ROOT}/blobs/sha256/${hex.slice(0, 2)}/${hex}/data`;
  const objects: Array<[string, Buffer]> = [
    [blob(mhex), manifest],
    [blob(configDigest.slice(7)), config],
  ];
  for (let i = 0; i < repos; i++) {
    const repo = `${ROOT}/repositories/${repoName(i)}`;
    objects.push([`${repo}/_manifests/tags/latest/current/link`, md]);
    objects.push([`${repo}/_manifests/revisions/sha256/${mhex}/link`, md]);
    objects.push([`${repo}/_layers/sha256/${layerHex(i)}/link`, Buffer.from(`sha256:${layerHex(i)}`)]);
  }
  const big = `${ROOT}/repositories/${BIG_REPO}`;
  objects.push([`${big}/_manifests/revisions/sha256/${mhex}/link`, md]);
  objects.push([`${big}/_layers/sha256/${configDigest.slice(7)}/link`, Buffer.from(configDigest)]);
  for (let t = 0; t < tags; t++) {
    objects.push([`${big}/_manifests/tags/${tagName(t)}/current/link`, md]);
    objects.push([`${big}/_manifests/tags/${tagName(t)}/index/sha256/${mhex}/link`, md]);
  }
  return objects;
}

/** Plain code-unit order, as the spec's "lexical" order and S3 key order are for these ASCII names. */
const byCodeUnit = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);

function listingOf(ctx: Context): Promise<Listing> {
  filled ??= (async () => {
    const s3 = ctx.s3;
    if (!s3) throw new Error('no S3 server (--storage s3)');
    const { repos, tags } = ctx.sizes;
    const bucket = await s3.createBucket('listing');
    const objects = layout(repos, tags);
    ctx.log(`filling bucket ${bucket}: ${objects.length} objects (${repos} repositories + ${BIG_REPO} with ${tags} tags), ${FILL_CONCURRENCY} PUTs in flight`);
    const t0 = performance.now();
    await s3.putMany(bucket, objects, FILL_CONCURRENCY, ctx.log);
    const s = (performance.now() - t0) / 1000;
    ctx.log(`filled in ${s.toFixed(1)} s (${(objects.length / s).toFixed(0)} PUT/s)`);
    return {
      bucket,
      repos: [...Array.from({ length: repos }, (_, i) => repoName(i)), BIG_REPO].sort(byCodeUnit),
      tags: Array.from({ length: tags }, (_, i) => tagName(i)).sort(byCodeUnit),
    };
  })();
  return filled;
}

function isSorted(list: string[]): boolean {
  for (let i = 1; i < list.length; i++) if (list[i - 1]! >= list[i]!) return false;
  return true;
}

function sameSet(a: string[], b: string[]): boolean {
  if (a.length !== b.length) return false;
  const set = new Set(a);
  return set.size === a.length && b.every((x) => set.has(x));
}

interface Check {
  errors: number;
  notes: string[];
  /** The names when the page followed the spec, for the cross-server comparison. */
  specPage: string[] | undefined;
}

/**
 * Check one listing answer against the expected names: a spec page (≤ n, sorted, after `last`)
 * must be exactly the expected page; an answer ignoring n (and last) must be exactly the whole set.
 */
function checkPage(reply: FullReply, key: 'repositories' | 'tags', all: string[], n: number, last: string | undefined, what: string): Check {
  const notes: string[] = [];
  let names: string[];
  try {
    names = (JSON.parse(reply.body.toString('utf8')) as Record<string, string[] | null>)[key] ?? [];
  } catch {
    return { errors: 1, notes: [`${what}: body is not JSON`], specPage: undefined };
  }
  const after = last === undefined ? all : all.filter((x) => x > last);
  const expected = after.slice(0, n);
  const hasLink = reply.headers.link !== undefined;
  if (names.length <= n) {
    if (names.length === expected.length && names.every((x, i) => x === expected[i])) {
      if (after.length > n && !hasLink) notes.push(`${what}: no Link header to the next page`);
      return { errors: 0, notes, specPage: names };
    }
    const sorted = isSorted(names);
    if (sameSet(names, expected)) return { errors: 0, notes: [`${what}: the right ${names.length} names, not sorted`], specPage: undefined };
    const missing = expected.filter((x) => !names.includes(x)).slice(0, 3);
    return {
      errors: 1,
      notes: [`${what}: ${names.length} names${sorted ? '' : ' (not sorted)'}, expected ${expected.length} from ${expected[0] ?? '—'}; missing e.g. ${missing.join(', ') || '—'}`],
      specPage: undefined,
    };
  }
  // More than n: the server ignores n. It should then return everything (after last, if it honours that).
  const sorted = isSorted(names);
  if (sameSet(names, all)) {
    notes.push(`${what}: ignores n${last !== undefined ? ' and last' : ''}: all ${names.length} names${sorted ? '' : ', not sorted'}`);
    return { errors: 0, notes, specPage: undefined };
  }
  if (last !== undefined && sameSet(names, after)) {
    notes.push(`${what}: ignores n: all ${names.length} names after last${sorted ? '' : ', not sorted'}`);
    return { errors: 0, notes, specPage: undefined };
  }
  return { errors: 1, notes: [`${what}: ${names.length} names for n=${n}, neither a page nor the ${all.length} expected`], specPage: undefined };
}

/** Spec-following pages seen per scenario and server (last repetition), compared across servers. */
const pagesSeen = new Map<string, Map<string, string>>();

interface Target {
  name: string;
  key: 'repositories' | 'tags';
  path: (l: Listing, n: number) => string;
  all: (l: Listing) => string[];
  last: (l: Listing) => string | undefined;
}

/** For the later tag page: `last` is the tag at 60% of the sorted list. */
const laterLast = (l: Listing): string => l.tags[Math.floor(l.tags.length * 0.6)]!;

/** How long each server process stays up after its timed requests, before it is stopped. */
const LINGER_MS = 5000;

async function measure(target: Target, server: RunningProcess, ctx: Context, rep: number): Promise<Sample> {
  if (!ctx.startServer) throw new Error('this scenario needs --storage s3');
  const listing = await listingOf(ctx);
  const n = ctx.sizes.pageSize;
  const last = target.last(listing);
  const fresh = await ctx.startServer(server.name as 'berth' | 'distribution', listing.bucket, `${target.name}-${rep + 1}`);
  const agent = new Agent({ keepAlive: true, maxSockets: 1 });
  let coldMs = NaN;
  const warm: number[] = [];
  let first: FullReply | undefined;
  let latest: FullReply | undefined;
  let rss = NaN;
  try {
    const url = `${fresh.url}${target.path(listing, n)}`;
    for (let i = 0; i <= ctx.sizes.listingSamples; i++) {
      const t0 = performance.now();
      const r = await send({ method: 'GET', url, agent });
      const ms = performance.now() - t0;
      expectStatus(r, 200, `GET ${target.path(listing, n)}`);
      if (i === 0) {
        coldMs = ms;
        first = r;
      } else warm.push(ms);
      latest = r;
    }
    rss = fresh.peakRssMiB();
    // A server lives on after its first requests; stopping it at once would cut short what it
    // does behind them (Berth's catalog walk, which saves the list a restart starts from).
    await new Promise((r) => setTimeout(r, LINGER_MS));
  } finally {
    agent.destroy();
    await fresh.stop();
  }
  const all = target.all(listing);
  const what = `${target.name} (${target.path(listing, n)})`;
  const coldCheck = checkPage(first!, target.key, all, n, last, `${what}, cold`);
  const later = checkPage(latest!, target.key, all, n, last, what);
  const notes = [...new Set([...coldCheck.notes.map((x) => (coldCheck.errors ? x : x.replace(', cold:', ':'))), ...later.notes])];
  let errors = coldCheck.errors + later.errors;
  if (coldCheck.specPage && later.specPage && coldCheck.specPage.join('\n') !== later.specPage.join('\n')) {
    errors++;
    notes.push(`${what}: the cold and warm answers differ`);
  }
  if (later.specPage) {
    const seen = pagesSeen.get(target.name) ?? new Map<string, string>();
    pagesSeen.set(target.name, seen);
    seen.set(server.name, later.specPage.join('\n'));
    for (const [other, page] of seen) {
      if (other !== server.name && page !== seen.get(server.name)) {
        errors++;
        notes.push(`${what}: ${server.name} and ${other} return different pages`);
      }
    }
  }
  if (target.name === 's3-tags' && rep === 0 && server.name === 'berth') notes.push(await storeFloor(ctx, listing));
  const values: Record<string, number> = { [rep === 0 ? 'first cold ms' : 'cold ms']: coldMs, 'warm ms': median(warm), 'rss MiB': rss };
  return { values, errors, notes };
}

/**
 * What the store itself takes for the requests a tag page costs a process that has nothing
 * saved for the repository: a GET of the missing saved list and one listing of the tag folder
 * (101 names, the first page of n=100). Timed from the bench (median of 7), for reading the
 * first-request rows against.
 */
async function storeFloor(ctx: Context, listing: Listing): Promise<string> {
  const s3 = ctx.s3!;
  const time = async (request: () => Promise<number>): Promise<number> => {
    const ms: number[] = [];
    for (let i = 0; i < 7; i++) {
      const t0 = performance.now();
      await request();
      ms.push(performance.now() - t0);
    }
    return median(ms);
  };
  const get = await time(() => s3.request('GET', `/${listing.bucket}/${ROOT}/_berth/tags/no-such/_tags.json`));
  const list = await time(() =>
    s3.request('GET', `/${listing.bucket}`, { 'list-type': '2', prefix: `${ROOT}/repositories/${BIG_REPO}/_manifests/tags/`, delimiter: '/', 'max-keys': '101' }),
  );
  return `store alone (median of 7): a GET of a missing key ${get.toFixed(1)} ms; a listing of the first 101 tags of ${BIG_REPO} ${list.toFixed(1)} ms`;
}

function listingScenario(target: Target, title: string): Scenario {
  return {
    name: target.name,
    title,
    metrics: [
      { key: 'first cold ms', unit: 'ms, first request, first start on the bucket', better: 'lower', digits: 1, target: { ratio: 0.1 } },
      { key: 'cold ms', unit: 'ms, first request after a restart', better: 'lower', digits: 1, target: { ratio: 0.1 } },
      { key: 'warm ms', unit: 'ms, later requests (median)', better: 'lower', digits: 2, target: { ratio: 0.1 } },
      { key: 'rss MiB', unit: 'MiB, server RSS after the requests', better: 'lower', digits: 0 },
    ],
    async prepare(_server, ctx) {
      await listingOf(ctx);
    },
    run: (server, ctx, rep) => measure(target, server, ctx, rep),
  };
}

export const s3CatalogScenario = listingScenario(
  { name: 's3-catalog', key: 'repositories', path: (_l, n) => `/v2/_catalog?n=${n}`, all: (l) => l.repos, last: () => undefined },
  'catalog page',
);

export const s3TagsScenario = listingScenario(
  { name: 's3-tags', key: 'tags', path: (_l, n) => `/v2/${BIG_REPO}/tags/list?n=${n}`, all: (l) => l.tags, last: () => undefined },
  'tag list, first page',
);

export const s3TagsLastScenario = listingScenario(
  {
    name: 's3-tags-last',
    key: 'tags',
    path: (l, n) => `/v2/${BIG_REPO}/tags/list?n=${n}&last=${encodeURIComponent(laterLast(l))}`,
    all: (l) => l.tags,
    last: laterLast,
  },
  'tag list, later page (last=)',
);
