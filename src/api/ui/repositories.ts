import { isValidName } from '../../oci/names.js';
import { sortedIndex } from '../../storage/listing/sorted.js';
import { type Context, sendJson } from '../context.js';
import { badParameter, choice, nameFilter, paging } from './query.js';
import type { RepositoriesPage, RepositoryEntry } from './shapes.js';

/**
 * GET /v2/_berth/repositories: the catalog the caller may see (what it may pull), filtered
 * (`q`, `regex`), as a flat list or one level of the namespace tree (`view=tree`, `prefix`),
 * paged by `n` and `offset`. Follows the whole catalog however long it is (the kept listing of
 * src/storage answers it), not the first 1000 names.
 */
export async function repositoriesPage(ctx: Context, visible: ((name: string) => boolean) | undefined): Promise<void> {
  const view = choice(ctx.query, 'view', ['flat', 'tree'] as const);
  const { n, offset } = paging(ctx.query);
  const prefix = namespacePrefix(ctx.query.get('prefix') ?? '');
  const filter = await nameFilter(ctx.query);
  const catalog = await ctx.registry.catalog();
  const seen = visible ? catalog.filter(visible) : catalog;
  const matched = filter ? seen.filter(filter) : seen;
  // Flat: only the page's names become entries.
  const tree = view === 'tree' ? level(matched, prefix) : undefined;
  const page = tree ? tree.slice(offset, offset + n) : matched.slice(offset, offset + n).map((name) => ({ name, repository: true, below: 0 }));
  const body: RepositoriesPage = { view, prefix: tree ? prefix : '', total: seen.length, matched: matched.length, entries: tree ? tree.length : matched.length, offset, n, repositories: page };
  sendJson(ctx, 200, body, { 'Cache-Control': 'no-store' });
}

/** '' or a namespace followed by '/'. */
function namespacePrefix(raw: string): string {
  const trimmed = raw.replace(/^\/+|\/+$/g, '');
  if (trimmed === '') return '';
  if (!isValidName(trimmed)) throw badParameter('prefix is not a repository namespace', { prefix: raw });
  return `${trimmed}/`;
}

/** The entries one level below `prefix` in a sorted list of names: repositories there and namespaces with their counts. */
function level(sorted: readonly string[], prefix: string): RepositoryEntry[] {
  // Sorted by bytes, "a/x" comes after "a-b": the names below one head are not always adjacent.
  const byHead = new Map<string, RepositoryEntry>();
  for (let i = prefix ? sortedIndex(sorted, prefix) : 0; i < sorted.length; i++) {
    const name = sorted[i]!;
    if (!name.startsWith(prefix)) break;
    const slash = name.indexOf('/', prefix.length);
    const head = slash === -1 ? name : name.slice(0, slash);
    let entry = byHead.get(head);
    if (!entry) byHead.set(head, (entry = { name: head, repository: false, below: 0 }));
    if (slash === -1) entry.repository = true;
    else entry.below++;
  }
  return [...byHead.values()].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}
