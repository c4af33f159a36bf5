import { RegistryError } from '../oci/errors.js';
import { checkName } from '../oci/names.js';

export type Route =
  | { kind: 'base' }
  | { kind: 'catalog' }
  | { kind: 'tags'; name: string }
  | { kind: 'manifest'; name: string; reference: string }
  | { kind: 'blob'; name: string; digest: string }
  | { kind: 'uploads'; name: string }
  | { kind: 'upload'; name: string; id: string }
  | { kind: 'referrers'; name: string; digest: string }
  /** Berth extension: GET a repository's tag page (docs/ui.md), DELETE the whole repository (docs/gc.md). */
  | { kind: 'repository'; name: string }
  /** Berth's JSON endpoints for the web UI and scripts (docs/ui.md). */
  | { kind: 'session' }
  | { kind: 'repositories' }
  | { kind: 'image'; name: string; reference: string }
  | { kind: 'referrer-tree'; name: string; digest: string };

/** Each route's path template (the `http.route` of its trace span); a new route kind must add its own. */
export const ROUTE_TEMPLATES: Record<Route['kind'], string> = {
  base: '/v2/',
  catalog: '/v2/_catalog',
  tags: '/v2/{name}/tags/list',
  manifest: '/v2/{name}/manifests/{reference}',
  blob: '/v2/{name}/blobs/{digest}',
  uploads: '/v2/{name}/blobs/uploads/',
  upload: '/v2/{name}/blobs/uploads/{uuid}',
  referrers: '/v2/{name}/referrers/{digest}',
  repository: '/v2/_berth/repositories/{name}',
  repositories: '/v2/_berth/repositories',
  session: '/v2/_berth/session',
  image: '/v2/_berth/images/{name}/{reference}',
  'referrer-tree': '/v2/_berth/referrers/{name}/{digest}',
};

// Names may contain slashes (and even words like "manifests"), so each pattern anchors on its
// tail and the greedy name group takes everything before the last match.
const patterns: Array<[RegExp, (m: RegExpMatchArray) => Route]> = [
  [/^\/v2\/?$/, () => ({ kind: 'base' })],
  [/^\/v2\/_catalog$/, () => ({ kind: 'catalog' })],
  // Berth's own endpoints live under /v2/_berth/: a name component cannot start with "_", so no
  // repository route can ever be this path (the reason Distribution chose /v2/_catalog). First,
  // so that a name containing "manifests" or "blobs" is not taken for a spec route.
  [/^\/v2\/_berth\/repositories\/(.+)$/, (m) => ({ kind: 'repository', name: m[1]! })],
  [/^\/v2\/_berth\/repositories$/, () => ({ kind: 'repositories' })],
  [/^\/v2\/_berth\/session$/, () => ({ kind: 'session' })],
  [/^\/v2\/_berth\/images\/(.+)\/([^/]+)$/, (m) => ({ kind: 'image', name: m[1]!, reference: m[2]! })],
  [/^\/v2\/_berth\/referrers\/(.+)\/([^/]+)$/, (m) => ({ kind: 'referrer-tree', name: m[1]!, digest: m[2]! })],
  [/^\/v2\/(.+)\/tags\/list$/, (m) => ({ kind: 'tags', name: m[1]! })],
  [/^\/v2\/(.+)\/manifests\/([^/]+)$/, (m) => ({ kind: 'manifest', name: m[1]!, reference: m[2]! })],
  [/^\/v2\/(.+)\/blobs\/uploads\/?$/, (m) => ({ kind: 'uploads', name: m[1]! })],
  [/^\/v2\/(.+)\/blobs\/uploads\/([^/]+)$/, (m) => ({ kind: 'upload', name: m[1]!, id: m[2]! })],
  [/^\/v2\/(.+)\/blobs\/([^/]+)$/, (m) => ({ kind: 'blob', name: m[1]!, digest: m[2]! })],
  [/^\/v2\/(.+)\/referrers\/([^/]+)$/, (m) => ({ kind: 'referrers', name: m[1]!, digest: m[2]! })],
];

/**
 * Maps a decoded request path (prefix removed) to a route; undefined when nothing matches.
 * A route with a repository name is returned only when the name is valid (NAME_INVALID otherwise).
 */
export function matchRoute(path: string): Route | undefined {
  for (const [re, build] of patterns) {
    const m = path.match(re);
    if (!m) continue;
    const route = build(m);
    if ('name' in route) checkName(route.name);
    return route;
  }
  return undefined;
}

/** Splits the raw request target into a decoded path and its query. */
export function parseTarget(target: string, prefix: string): { path: string; query: URLSearchParams } | undefined {
  const q = target.indexOf('?');
  let raw = q === -1 ? target : target.slice(0, q);
  const query = new URLSearchParams(q === -1 ? '' : target.slice(q + 1));
  if (prefix) {
    if (raw !== prefix && !raw.startsWith(`${prefix}/`)) return undefined;
    raw = raw.slice(prefix.length) || '/';
  }
  let path = raw;
  if (raw.includes('%')) {
    try {
      path = decodeURIComponent(raw);
    } catch {
      throw new RegistryError('NAME_INVALID', 'malformed percent-encoding in path');
    }
  }
  return { path, query };
}
