import { PathNotFoundError } from './errors.js';
import type { FileInfo, WalkFn, WalkOptions } from './types.js';

/**
 * The walk every driver shares: depth-first, each directory before its contents, siblings in
 * lexical order of name (which is lexical order of full path among siblings). Drivers supply
 * one function that gives the children of a directory (already as FileInfo); this one does the
 * ordering, 'skip', 'stop' and the startAfter hint.
 *
 * Note on order: because '-' and '.' sort before '/', depth-first order is not the same as a plain
 * sort of all full paths ("/a/b" is visited before "/a-c"). startAfter is therefore compared in
 * walk order (component by component), so that resuming after an entry skips exactly the entries
 * a previous walk had already visited.
 */
export type ChildrenFn = (dirPath: string) => Promise<FileInfo[]>;

/**
 * list() for drivers with listChildren: the children's full paths, sorted, each once (a name
 * can be both a file and a folder in a key store); PathNotFoundError for a folder with none.
 */
export async function listFromChildren(driverName: string, path: string, pages: AsyncIterable<string[]>): Promise<string[]> {
  const names = new Set<string>();
  for await (const page of pages) for (const entry of page) names.add(entry.endsWith('/') ? entry.slice(0, -1) : entry);
  if (names.size === 0 && path !== '/') throw new PathNotFoundError(driverName, path);
  const base = path === '/' ? '' : path;
  return [...names].sort().map((n) => `${base}/${n}`);
}

/** -1, 0 or 1: how a comes relative to b in walk order (an ancestor comes before its contents). */
export function compareWalkOrder(a: string, b: string): number {
  const as = a.split('/');
  const bs = b.split('/');
  const n = Math.min(as.length, bs.length);
  for (let i = 0; i < n; i++) {
    if (as[i] !== bs[i]) return as[i]! < bs[i]! ? -1 : 1;
  }
  return as.length === bs.length ? 0 : as.length < bs.length ? -1 : 1;
}

function isAncestor(dir: string, path: string): boolean {
  return path.startsWith(dir === '/' ? '/' : dir + '/') && path !== dir;
}

/**
 * Runs the walk. Returns true when the visitor asked to stop. A missing `root` is an error
 * (PathNotFoundError from `children`); a subdirectory that vanishes during the walk is passed over.
 */
export async function walkTree(
  root: string,
  children: ChildrenFn,
  visit: WalkFn,
  options: WalkOptions = {},
  nested = false,
): Promise<boolean> {
  const startAfter = options.startAfter;
  let entries: FileInfo[];
  try {
    entries = await children(root);
  } catch (err) {
    if (nested && err instanceof PathNotFoundError) return false;
    throw err;
  }
  entries.sort((x, y) => (x.path < y.path ? -1 : x.path > y.path ? 1 : 0));
  for (const info of entries) {
    let visitIt = true;
    let descend = info.isDir;
    if (startAfter !== undefined && compareWalkOrder(info.path, startAfter) <= 0) {
      visitIt = false;
      descend = info.isDir && isAncestor(info.path, startAfter);
    }
    if (visitIt) {
      const result = await visit(info);
      if (result === 'stop') return true;
      if (result === 'skip') descend = false;
    }
    if (descend && (await walkTree(info.path, children, visit, options, true))) return true;
  }
  return false;
}

/** The full path of a child entry. */
export function childPath(dir: string, name: string): string {
  return dir === '/' ? `/${name}` : `${dir}/${name}`;
}
