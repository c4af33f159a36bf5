import { ErrorView, useGet } from '../components.js';
import { ago, bytes, exact, shortDigest } from '../format.js';
import { links } from '../router.js';
import type { ReferrerNode, ReferrersPage, Session } from '../types.js';

const GROUPS: Array<[ReferrerNode['kind'], string]> = [
  ['signature', 'Signatures'],
  ['sbom', 'SBOMs'],
  ['attestation', 'Attestations'],
  ['other', 'Other artifacts'],
];

/** An image's referrers as a tree, grouped by kind (from their artifactType); each node's own referrers below it. */
export function Referrers({ name, digest, onSession }: { name: string; digest: string; onSession: (s: Session) => void }) {
  const { data, error } = useGet<ReferrersPage>(`/v2/_berth/referrers/${name}/${digest}`);
  return (
    <section>
      <nav class="crumbs" aria-label="Breadcrumbs">
        <a href={links.repositories()}>Repositories</a> / <a href={links.repository(name)}>{name}</a> / <a href={links.image(name, digest)}>{shortDigest(digest)}</a>
      </nav>
      <div class="heading">
        <h1>Referrers</h1>
        {data && <span class="muted">{data.count} in all</span>}
      </div>
      {error ? <ErrorView error={error} onSession={onSession} /> : null}
      {data && data.referrers.length === 0 && <p class="muted">Nothing refers to this image: no signatures, SBOMs or attestations.</p>}
      {data &&
        GROUPS.map(([kind, title]) => {
          const nodes = data.referrers.filter((r) => r.kind === kind);
          if (nodes.length === 0) return null;
          return (
            <section key={kind} class="referrer-group" data-kind={kind}>
              <h2>
                {title} <span class="muted">({nodes.length})</span>
              </h2>
              <Tree name={name} nodes={nodes} />
            </section>
          );
        })}
    </section>
  );
}

function Tree({ name, nodes }: { name: string; nodes: ReferrerNode[] }) {
  return (
    <ul class="tree">
      {nodes.map((n) => (
        <li key={n.digest} data-digest={n.digest}>
          <div class="node">
            <span class={`badge kind-${n.kind}`}>{n.kind}</span>
            <a href={links.image(name, n.digest)}>
              <code>{shortDigest(n.digest)}</code>
            </a>
            <span class="type">{n.artifactType ?? n.mediaType}</span>
            <span class="muted">
              {bytes(n.size)}
              {n.created && (
                <span title={exact(n.created)}>
                  {' · '}
                  {ago(n.created)}
                </span>
              )}
              {n.inIndex && ' · in the index'}
            </span>
          </div>
          {n.referrers.length > 0 && <Tree name={name} nodes={n.referrers} />}
        </li>
      ))}
    </ul>
  );
}
