import type { Digest } from '../../oci/digest.js';
import { RegistryError } from '../../oci/errors.js';
import { KeptList } from '../../storage/listing/kept-list.js';
import { LruCache } from '../../storage/lru.js';
import { layoutPathOf, tagCurrentLinkPath } from '../../storage/paths.js';
import type { StorageChange } from '../../storage/changes.js';
import type { StorageDriver } from '../../storage/driver/types.js';
import type { Repository } from '../../storage/repository.js';
import type { ManifestRecord } from '../../storage/rules.js';
import { type Context, sendJson } from '../context.js';
import { mapLimit } from '../../storage/map-limit.js';
import { choice, nameFilter, paging } from './query.js';
import type { ManifestSummary, RepositoryPage, TagRow } from './shapes.js';
import type { Summaries } from './summaries.js';
import type { Refresher } from './refresh.js';
import type { UiState } from './state.js';

const SORTS = ['name', 'pushed', 'pulled', 'created', 'size'] as const;
type SortKey = (typeof SORTS)[number];
/** Reads of tag links and summaries in flight for one page at most. */
const READ_CONCURRENCY = 32;

/**
 * GET /v2/_berth/repositories/<name>: one page of the repository's tags with their summaries,
 * filtered (`q`, `regex`), sorted (`sort`, `order`) and paged (`n`, `offset`) here, plus the
 * repository's size. Sorting by name reads only the page's tags; other sorts read every matching
 * tag's link and summary (summaries are kept per digest, so that is one link read per tag).
 */
export async function repositoryPage(ctx: Context, ui: UiState, name: string): Promise<void> {
  const repo = ctx.registry.repository(name);
  const sort = choice(ctx.query, 'sort', SORTS);
  const order = choice(ctx.query, 'order', sort === 'name' ? (['asc', 'desc'] as const) : (['desc', 'asc'] as const));
  const { n, offset } = paging(ctx.query);
  const filter = await nameFilter(ctx.query);
  const all = await repo.tags.list();
  if (all.length === 0 && !(await repo.hasManifests())) throw new RegistryError('NAME_UNKNOWN', undefined, { name });
  const matched = filter ? all.filter(filter) : all;
  const records = (await ctx.registry.records?.read(name)) ?? NO_RECORDS;
  const row = (tag: string) => tagRow(ctx, ui, repo, tag, records);
  let rows: TagRow[];
  if (sort === 'name') {
    const ordered = order === 'asc' ? matched.slice(offset, offset + n) : matched.slice(Math.max(0, matched.length - offset - n), Math.max(0, matched.length - offset)).reverse();
    rows = (await mapLimit(ordered, READ_CONCURRENCY, row)).filter((r): r is TagRow => r !== undefined);
  } else {
    const every = (await mapLimit(matched, READ_CONCURRENCY, row)).filter((r): r is TagRow => r !== undefined);
    every.sort(byKey(sort, order));
    rows = every.slice(offset, offset + n);
  }
  const [size, canDelete] = await Promise.all([ui.sizes.of(repo, ui.summaries), ui.canDelete(ctx, name)]);
  const body: RepositoryPage = { name, tagCount: all.length, matched: matched.length, offset, n, sort, order, size, canDelete, tags: rows };
  sendJson(ctx, 200, body, { 'Cache-Control': 'no-store' });
}

/**
 * A tag's row; undefined when the tag went away meanwhile. A target read within the listings'
 * stale window and not dropped by a change since (RepositoryTags.recent) is answered as it is,
 * and read again behind the answer once past berth.metadatattl: a warm page reads no tag links.
 */
async function tagRow(ctx: Context, ui: UiState, repo: Repository, tag: string, records: ReadonlyMap<string, ManifestRecord>): Promise<TagRow | undefined> {
  const kept = repo.tags.recent(tag);
  if (kept && !kept.fresh) ui.refresher.run(`tag ${repo.name}:${tag}`, () => repo.tags.resolve(tag));
  const digest = kept ? kept.digest : await repo.tags.resolve(tag);
  if (!digest) return undefined;
  const [summary, pushed] = await Promise.all([ui.summaries.get(digest), ui.pushed.of(ctx.registry.driver, repo.name, tag, digest)]);
  const record = records.get(digest.value);
  return { ...(summary ?? UNREADABLE), name: tag, digest: digest.value, pushed, pulled: isoOrNull(record?.pulled), pulls: record?.pulls ?? 0 };
}

export const NO_RECORDS: ReadonlyMap<string, ManifestRecord> = new Map();

export function isoOrNull(ms: number | null | undefined): string | null {
  return ms === null || ms === undefined ? null : new Date(ms).toISOString();
}

/** What a row shows for a tag whose manifest cannot be read (gone meanwhile, or not JSON). */
const UNREADABLE: ManifestSummary = { digest: '', mediaType: '', artifactType: null, size: 0, created: null, platforms: [], attestations: 0, layerCount: 0, subject: null };

/**
 * When a tag was last pushed: its `current` link's modification time. Kept per tag and digest
 * (a stat is a HEAD request on object stores, 50 of them per page): a new digest under the tag is
 * seen at once; a time older than PUSHED_KEPT_MS is answered once more and read again behind the
 * answer, so the same digest pushed again shows its new time within that (or, for a tag not
 * viewed for PUSHED_STALE_MS, on the next view).
 */
export class PushedTimes {
  private readonly kept = new LruCache<{ digest: string; pushed: string | null; at: number }>(50_000);

  constructor(private readonly refresher: Refresher) {}

  async of(driver: StorageDriver, name: string, tag: string, digest: Digest): Promise<string | null> {
    const key = `${name}:${tag}`;
    const hit = this.kept.get(key);
    if (hit && hit.digest === digest.value) {
      const age = performance.now() - hit.at;
      if (age < PUSHED_KEPT_MS) return hit.pushed;
      if (age < PUSHED_STALE_MS) {
        this.refresher.run(`pushed ${key}`, () => this.read(driver, key, name, tag, digest));
        return hit.pushed;
      }
    }
    return this.read(driver, key, name, tag, digest);
  }

  private async read(driver: StorageDriver, key: string, name: string, tag: string, digest: Digest): Promise<string | null> {
    let pushed: string | null = null;
    try {
      pushed = (await driver.stat(tagCurrentLinkPath(name, tag))).modTime.toISOString();
    } catch {
      // gone meanwhile
    }
    this.kept.set(key, { digest: digest.value, pushed, at: performance.now() });
    return pushed;
  }
}

const PUSHED_KEPT_MS = 30_000;
const PUSHED_STALE_MS = 10 * 60_000;

/** Rows by `key` (rows without a value last), then by name. */
function byKey(key: Exclude<SortKey, 'name'>, order: 'asc' | 'desc'): (a: TagRow, b: TagRow) => number {
  const sign = order === 'asc' ? 1 : -1;
  return (a, b) => {
    const x = a[key];
    const y = b[key];
    if (x !== y) {
      if (x === null) return 1;
      if (y === null) return -1;
      return (x < y ? -1 : 1) * sign;
    }
    return a.name < b.name ? -1 : a.name > b.name ? 1 : 0;
  };
}

/**
 * How long a repository's size is answered before it is computed again, when no change to its
 * manifests has been heard: long with caching on (this instance's writes, and others' over Redis
 * or from other workers, expire it at once), short with caching off (other instances' writes go
 * unheard). Past that it is still answered while it is computed again in the background.
 */
const SIZE_FRESH_MS = { caching: 10 * 60_000, off: 10_000 };
const SIZE_STALE_MS = 10 * 60_000;

/**
 * Repository sizes: every manifest revision's own bytes plus every blob its manifests name, each
 * blob counted once however many images share it. Kept per repository (KeptList), computed again
 * in the background once a manifest of the repository is put or deleted (`changed`) or it is
 * older than SIZE_FRESH_MS; summaries are kept per digest, so a computation reads the revision
 * links (one GET each on object stores).
 */
export class RepositorySizes {
  private readonly kept = new LruCache<KeptList<number>>(1_000);
  private readonly freshMs: number;

  /** `caching`: berth.metadatattl is on (StorageModes.caching). */
  constructor(caching: boolean) {
    this.freshMs = caching ? SIZE_FRESH_MS.caching : SIZE_FRESH_MS.off;
  }

  of(repo: Repository, summaries: Summaries): Promise<number> {
    let value = this.kept.get(repo.name);
    if (!value) {
      value = new KeptList({ load: () => repositorySize(repo, summaries), ttlMs: this.freshMs, staleMs: SIZE_STALE_MS });
      this.kept.set(repo.name, value);
    }
    return value.get();
  }

  /** Storage changed (StorageChanges.follow): sizes of repositories whose manifests changed are computed again; all of them when changes may have been missed. */
  changed(changes: readonly StorageChange[] | undefined): void {
    for (const at of changes?.map((c) => layoutPathOf(c.path)) ?? [{ kind: 'all-repositories' } as const]) {
      if (at.kind === 'revision' || at.kind === 'revisions' || at.kind === 'manifests') this.kept.get(at.name)?.expire();
      else if (at.kind === 'names') {
        for (const name of this.kept.keys()) if (name === at.prefix || name.startsWith(`${at.prefix}/`)) this.kept.get(name)?.expire();
      } else if (at.kind === 'all-repositories') for (const name of this.kept.keys()) this.kept.get(name)?.expire();
    }
  }
}

async function repositorySize(repo: Repository, summaries: Summaries): Promise<number> {
  const revisions: Digest[] = await repo.manifests.revisions();
  const parts = await mapLimit(revisions, READ_CONCURRENCY, (d) => summaries.parts(d));
  const blobs = new Map<string, number>();
  let total = 0;
  for (const p of parts) {
    if (!p) continue;
    total += p.ownBytes;
    for (const [digest, size] of p.blobs) blobs.set(digest, size);
  }
  for (const size of blobs.values()) total += size;
  return total;
}
