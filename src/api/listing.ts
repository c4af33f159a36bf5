import { RegistryError } from '../oci/errors.js';
import { sortedIndex } from '../storage/listing/sorted.js';
import type { Repository } from '../storage/repository.js';
import { type Context, sendJson } from './context.js';

interface Page {
  items: string[];
  /** The `n` to repeat in the next page's link, when there is a next page. */
  next?: { last: string; n: number };
}

interface PageParams {
  n: number | undefined;
  last: string;
}

/** The spec's `n` (bounded by maxN) and `last` ('' when absent). */
function pageParams(ctx: Context, defaultN: number | undefined, maxN: number): PageParams {
  const nParam = ctx.query.get('n');
  let n = defaultN;
  if (nParam !== null && nParam !== '') {
    if (!/^\d+$/.test(nParam)) throw new RegistryError('PAGINATION_NUMBER_INVALID', 'n must be a non-negative integer', { n: nParam });
    n = Math.min(Number(nParam), maxN);
  }
  return { n, last: ctx.query.get('last') ?? '' };
}

/** Applies the spec's `n` and `last` to a sorted list. */
function paginate(sorted: string[], { n, last }: PageParams): Page {
  let start = sortedIndex(sorted, last);
  if (sorted[start] === last) start++;
  if (n === undefined) return { items: sorted.slice(start) };
  const items = sorted.slice(start, start + n);
  const more = start + n < sorted.length && items.length > 0;
  return { items, next: more ? { last: items[items.length - 1]!, n } : undefined };
}

function linkHeader(ctx: Context, path: string, next: Page['next']): Record<string, string> {
  if (!next) return {};
  const query = new URLSearchParams({ last: next.last, n: String(next.n) });
  return { Link: `<${ctx.url(path)}?${query}>; rel="next"` };
}

/** GET /v2/<name>/tags/list */
export async function handleTags(ctx: Context, repo: Repository): Promise<void> {
  if (ctx.method !== 'GET' && ctx.method !== 'HEAD') throw new RegistryError('UNSUPPORTED', 'method not allowed', undefined, { headers: { Allow: 'GET' } });
  const params = pageParams(ctx, undefined, Number.MAX_SAFE_INTEGER);
  const tags = await repo.tags.list(params.n === undefined ? undefined : { after: params.last, count: params.n + 1 });
  if (tags.length === 0 && !(await repo.hasManifests())) {
    throw new RegistryError('NAME_UNKNOWN', undefined, { name: repo.name });
  }
  const page = paginate(tags, params);
  sendJson(ctx, 200, { name: repo.name, tags: page.items }, linkHeader(ctx, `/v2/${repo.name}/tags/list`, page.next));
}

/**
 * GET /v2/_catalog. A page holds `n` names, at most catalog.maxentries (also the page without
 * `n`). Distribution v3 refuses a larger `n` with 400; Berth cuts it to the bound, as the spec lets
 * a registry return fewer than `n`, and the Link header leads to the rest. With `visible` (a
 * caller who may list only some repositories) the page is cut from the whole list filtered, so
 * that it holds n names the caller may see.
 */
export async function handleCatalog(ctx: Context, visible?: (name: string) => boolean): Promise<void> {
  if (ctx.method !== 'GET' && ctx.method !== 'HEAD') throw new RegistryError('UNSUPPORTED', 'method not allowed', undefined, { headers: { Allow: 'GET' } });
  const max = ctx.config.catalog.maxEntries;
  const params = pageParams(ctx, max, max);
  // One name more than the page, so that whether a next page exists is known too.
  const names = visible
    ? (await ctx.registry.catalog()).filter(visible)
    : await ctx.registry.catalog({ after: params.last, count: (params.n ?? max) + 1 });
  const page = paginate(names, params);
  sendJson(ctx, 200, { repositories: page.items }, linkHeader(ctx, '/v2/_catalog', page.next));
}
