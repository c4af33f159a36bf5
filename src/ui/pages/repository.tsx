import { useState } from 'preact/hooks';
import { request } from '../api.js';
import { Confirm, CopyButton, ErrorView, FilterBox, Head, Pager, Platforms, useGet } from '../components.js';
import { ago, bytes, createdTitle, exact, pullCount, shortDigest } from '../format.js';
import { pageOf, useDebouncedParam } from '../hooks.js';
import { links } from '../router.js';
import type { RepositoryPage, Session, TagRow } from '../types.js';

const PAGE_SIZE = 50;
const SORTS = [
  ['name', 'Name'],
  ['pushed', 'Last pushed'],
  ['pulled', 'Last pulled'],
  ['created', 'Created'],
  ['size', 'Size'],
] as const;

/** A repository's tags, filtered, sorted and paged on the server: one request per page. */
export function Repository({ name, params, onSession }: { name: string; params: URLSearchParams; onSession: (s: Session) => void }) {
  const q = params.get('q') ?? '';
  const regex = params.get('regex') === '1';
  const sort = params.get('sort') ?? 'name';
  const order = params.get('order') ?? (sort === 'name' ? 'asc' : 'desc');
  const page = pageOf(params);
  const state = { q, regex: regex ? '1' : undefined, sort: sort === 'name' ? undefined : sort, order: params.get('order') ?? undefined };
  const [text, setText] = useDebouncedParam(q, (t) => links.repository(name, { ...state, q: t }));
  const query = new URLSearchParams({ [regex ? 'regex' : 'q']: q, sort, order, n: String(PAGE_SIZE), offset: String(page * PAGE_SIZE) });
  const { data, error, loading, reload } = useGet<RepositoryPage>(`/v2/_berth/repositories/${name}?${query}`);
  const [deleting, setDeleting] = useState<TagRow | undefined>();
  const parts = name.split('/');
  return (
    <section>
      <nav class="crumbs" aria-label="Breadcrumbs">
        <a href={links.repositories()}>Repositories</a>
        {parts.slice(0, -1).map((p, i) => (
          <span key={i}>
            {' / '}
            <a href={links.repositories({ view: 'tree', prefix: parts.slice(0, i + 1).join('/') })}>{p}</a>
          </span>
        ))}
      </nav>
      <div class="heading">
        <h1>{name}</h1>
        {data && (
          <span class="muted">
            {data.tagCount.toLocaleString()} tags · {bytes(data.size)} stored (shared layers once)
          </span>
        )}
      </div>
      <div class="toolbar">
        <FilterBox value={text} placeholder={regex ? 'Filter tags (regular expression)' : 'Filter tags'} onInput={setText}>
          <label class="check">
            <input type="checkbox" checked={regex} onChange={(e) => location.assign(links.repository(name, { ...state, regex: (e.currentTarget as HTMLInputElement).checked ? '1' : undefined }))} /> regex
          </label>
        </FilterBox>
        <label>
          Sort{' '}
          <select value={sort} onChange={(e) => location.assign(links.repository(name, { ...state, sort: (e.currentTarget as HTMLSelectElement).value, order: undefined }))}>
            {SORTS.map(([v, label]) => (
              <option value={v} key={v}>
                {label}
              </option>
            ))}
          </select>
        </label>
        <a class="button" href={links.repository(name, { ...state, order: order === 'asc' ? 'desc' : 'asc' })} aria-label={`Order: ${order === 'asc' ? 'ascending' : 'descending'}, switch`}>
          {order === 'asc' ? '↑ asc' : '↓ desc'}
        </a>
      </div>
      {error ? <ErrorView error={error} onSession={onSession} /> : null}
      {data && (
        <>
          {data.matched !== data.tagCount && <p class="muted">{data.matched.toLocaleString()} of {data.tagCount.toLocaleString()} tags match</p>}
          <table class="tags" aria-busy={loading}>
            <Head columns={['Tag', 'Digest', 'Platforms', 'Size', 'Created', 'Last pushed', 'Last pulled', '']} />
            <tbody>
              {data.tags.map((t) => (
                <tr key={t.name} data-tag={t.name}>
                  <td data-label="Tag">
                    <a href={links.image(name, t.name)} class="tag">
                      {t.name}
                    </a>
                  </td>
                  <td data-label="Digest">
                    <code title={t.digest}>{shortDigest(t.digest)}</code>
                  </td>
                  <td data-label="Platforms">{t.artifactType ? <span class="badge">{t.artifactType}</span> : <Platforms platforms={t.platforms} />}</td>
                  <td data-label="Size">{bytes(t.size)}</td>
                  <td data-label="Created" title={createdTitle(t.created)}>
                    {ago(t.created)}
                  </td>
                  <td data-label="Last pushed" title={exact(t.pushed)}>
                    {ago(t.pushed)}
                  </td>
                  <td data-label="Last pulled" title={t.pulled ? `${exact(t.pulled)} · pulled ${pullCount(t.pulls)}` : 'never pulled'}>
                    {t.pulled ? ago(t.pulled) : 'never'}
                  </td>
                  <td class="actions">
                    <CopyButton text={`docker pull ${location.host}/${name}:${t.name}`} label="Copy pull" />
                    {data.canDelete && (
                      <button type="button" class="danger" onClick={() => setDeleting(t)} aria-label={`Delete tag ${t.name}`}>
                        Delete
                      </button>
                    )}
                  </td>
                </tr>
              ))}
              {data.tags.length === 0 && (
                <tr>
                  <td colSpan={8} class="muted">
                    No tags{q ? ' match' : ''}.
                  </td>
                </tr>
              )}
            </tbody>
          </table>
          <Pager offset={data.offset} n={data.n} total={data.matched} href={(p) => links.repository(name, { ...state, page: p })} />
        </>
      )}
      {deleting && (
        <Confirm
          title={`Delete tag ${deleting.name}?`}
          action="Delete tag"
          onClose={() => setDeleting(undefined)}
          onConfirm={async () => {
            await request('DELETE', `/v2/${name}/manifests/${encodeURIComponent(deleting.name)}`);
            reload();
          }}
        >
          <p>
            Only the tag <strong>{deleting.name}</strong> is removed. The image <code>{shortDigest(deleting.digest)}</code> stays, and so does every other tag that points at it.
          </p>
        </Confirm>
      )}
    </section>
  );
}
