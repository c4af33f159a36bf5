import { ErrorView, FilterBox, Pager, useGet } from '../components.js';
import { pageOf, useDebouncedParam } from '../hooks.js';
import { links } from '../router.js';
import type { RepositoriesPage, Session } from '../types.js';

const PAGE_SIZE = 50;

/** The repositories the user may pull: a flat list or one level of the namespace tree, filtered and paged on the server. */
export function Repositories({ params, onSession }: { params: URLSearchParams; onSession: (s: Session) => void }) {
  const q = params.get('q') ?? '';
  const view = params.get('view') === 'tree' ? 'tree' : 'flat';
  const prefix = view === 'tree' ? (params.get('prefix') ?? '') : '';
  const page = pageOf(params);
  const state = { q, view: view === 'tree' ? 'tree' : undefined, prefix: prefix || undefined };
  const [text, setText] = useDebouncedParam(q, (t) => links.repositories({ ...state, q: t }));
  const query = new URLSearchParams({ q, view, prefix, n: String(PAGE_SIZE), offset: String(page * PAGE_SIZE) });
  const { data, error, loading } = useGet<RepositoriesPage>(`/v2/_berth/repositories?${query}`);
  const crumbs = prefix ? prefix.split('/') : [];
  return (
    <section>
      <div class="heading">
        <h1>Repositories</h1>
        {data && <span class="muted">{data.total.toLocaleString()} in all</span>}
      </div>
      <div class="toolbar">
        <FilterBox value={text} placeholder="Filter repositories" onInput={setText} />
        <div class="segmented" role="group" aria-label="View">
          <a href={links.repositories({ q })} aria-current={view === 'flat' ? 'true' : undefined}>
            Flat
          </a>
          <a href={links.repositories({ q, view: 'tree' })} aria-current={view === 'tree' ? 'true' : undefined}>
            Tree
          </a>
        </div>
      </div>
      {view === 'tree' && (
        <nav class="crumbs" aria-label="Namespace">
          <a href={links.repositories({ q, view: 'tree' })}>/</a>
          {crumbs.map((c, i) => (
            <span key={i}>
              {' '}
              <a href={links.repositories({ q, view: 'tree', prefix: crumbs.slice(0, i + 1).join('/') })}>{c}</a> /
            </span>
          ))}
        </nav>
      )}
      {error ? <ErrorView error={error} onSession={onSession} /> : null}
      {data && (
        <>
          {data.matched !== data.total && <p class="muted">{data.matched.toLocaleString()} match</p>}
          <ul class="list repositories" aria-busy={loading}>
            {data.repositories.map((r) => (
              <li key={r.name}>
                {r.repository && (
                  <a href={links.repository(r.name)} class="repo">
                    {r.name}
                  </a>
                )}
                {r.below > 0 && (
                  <a href={links.repositories({ q, view: 'tree', prefix: r.name })} class="namespace">
                    {r.name}/ <span class="muted">{r.below.toLocaleString()} {r.below === 1 ? 'repository' : 'repositories'}</span>
                  </a>
                )}
              </li>
            ))}
            {data.repositories.length === 0 && <li class="muted">No repositories{q ? ' match' : ''}.</li>}
          </ul>
          <Pager offset={data.offset} n={data.n} total={data.entries} href={(p) => links.repositories({ ...state, page: p })} />
        </>
      )}
    </section>
  );
}
