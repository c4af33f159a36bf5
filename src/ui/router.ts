// Hash routes, so the server serves one page and links work below http.prefix:
//   #/                              repositories (?q, regex, view, prefix, page)
//   #/repo/<name>                   a repository's tags (?q, regex, sort, order, page)
//   #/image/<name>@<reference>      an image by tag or digest
//   #/referrers/<name>@<digest>     the referrers tree of an image
// A repository name holds no '@', so the first '@' ends it.
import { useEffect, useState } from 'preact/hooks';

export type Route =
  | { page: 'repositories'; params: URLSearchParams }
  | { page: 'repository'; name: string; params: URLSearchParams }
  | { page: 'image' | 'referrers'; name: string; reference: string; params: URLSearchParams }
  | { page: 'missing'; params: URLSearchParams };

export function parseRoute(hash: string): Route {
  const raw = hash.replace(/^#/, '') || '/';
  const q = raw.indexOf('?');
  let path = q === -1 ? raw : raw.slice(0, q);
  try {
    path = decodeURIComponent(path);
  } catch {
    return { page: 'missing', params: new URLSearchParams() };
  }
  const params = new URLSearchParams(q === -1 ? '' : raw.slice(q + 1));
  if (path === '/' || path === '') return { page: 'repositories', params };
  let m = /^\/repo\/(.+)$/.exec(path);
  if (m) return { page: 'repository', name: m[1]!, params };
  m = /^\/(image|referrers)\/([^@]+)@(.+)$/.exec(path);
  if (m) return { page: m[1] as 'image' | 'referrers', name: m[2]!, reference: m[3]!, params };
  return { page: 'missing', params };
}

function withParams(path: string, params?: Record<string, string | number | undefined>): string {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params ?? {})) if (v !== undefined && v !== '' && v !== 0) q.set(k, String(v));
  const s = q.toString();
  return `#${path}${s ? `?${s}` : ''}`;
}

export const links = {
  repositories: (params?: Record<string, string | number | undefined>) => withParams('/', params),
  repository: (name: string, params?: Record<string, string | number | undefined>) => withParams(`/repo/${name}`, params),
  image: (name: string, reference: string) => `#/image/${name}@${reference}`,
  referrers: (name: string, digest: string) => `#/referrers/${name}@${digest}`,
};

export function useRoute(): Route {
  const [route, setRoute] = useState(() => parseRoute(location.hash));
  useEffect(() => {
    const on = () => setRoute(parseRoute(location.hash));
    addEventListener('hashchange', on);
    return () => removeEventListener('hashchange', on);
  }, []);
  return route;
}

/** Replaces the current route's parameters (filter typing, sorting) without a history entry per keystroke. */
export function replaceParams(base: string): void {
  history.replaceState(null, '', base);
  dispatchEvent(new HashChangeEvent('hashchange'));
}
