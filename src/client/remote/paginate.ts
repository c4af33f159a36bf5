import { ProtocolError } from '../errors.js';
import { header, readText } from '../http/transport.js';
import type { Registry } from './registry.js';

/** The `rel="next"` target of a Link header (RFC 8288), relative to the registry. */
export function nextLink(value: string | undefined): string | undefined {
  if (!value) return undefined;
  for (const part of value.split(/,(?=\s*<)/)) {
    const m = /^\s*<([^>]*)>\s*(.*)$/.exec(part);
    if (m && /(?:^|;)\s*rel="?next"?\s*(?:;|$)/i.test(m[2]!)) return m[1];
  }
  return undefined;
}

/** The names of a paginated listing (`tags` of tags/list, `repositories` of the catalog), page by page. */
export async function* paginate(
  registry: Registry,
  path: string,
  key: 'tags' | 'repositories',
  o: { pageSize?: number; last?: string; signal?: AbortSignal; scopes: string[]; repository?: string },
): AsyncGenerator<string> {
  const first = registry.url(path);
  if (o.pageSize) first.searchParams.set('n', String(o.pageSize));
  if (o.last) first.searchParams.set('last', o.last);
  let url: URL | undefined = first;
  const seen = new Set<string>();
  while (url) {
    // A registry whose Link leads back to a page already read would loop for ever.
    if (seen.has(url.href)) throw new ProtocolError(`Link header leads back to ${url.pathname}${url.search}`, { code: 'PAGINATION_NUMBER_INVALID', info: { registry: registry.host, method: 'GET', url: url.href } });
    seen.add(url.href);
    const res = await registry.request({ method: 'GET', path: url, scopes: o.scopes, repository: o.repository, expect: [200], notFound: 'NAME_UNKNOWN', signal: o.signal });
    const text = await readText(res);
    let doc: Record<string, unknown>;
    try {
      doc = JSON.parse(text) as Record<string, unknown>;
    } catch {
      throw new ProtocolError(`${key} listing is not JSON`, { code: 'UNKNOWN', info: res.info, status: res.status });
    }
    const names = doc[key] ?? [];
    if (!Array.isArray(names)) throw new ProtocolError(`${key} is not a list`, { code: 'UNKNOWN', info: res.info, status: res.status });
    for (const n of names) if (typeof n === 'string') yield n;
    const next = nextLink(header(res, 'link'));
    url = next ? new URL(next, registry.base) : undefined;
  }
}
