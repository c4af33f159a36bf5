import { useState } from 'preact/hooks';
import { request } from '../api.js';
import { Confirm, CopyButton, ErrorView, Fact, Head, PullCommands, useGet } from '../components.js';
import { ago, bytes, createdTitle, exact, platformName, pullCount, shortDigest } from '../format.js';
import { links } from '../router.js';
import type { ConfigDetail, ImagePage, Session } from '../types.js';

const isIndex = (mediaType: string) => mediaType.endsWith('index.v1+json') || mediaType.endsWith('manifest.list.v2+json');

/** An image by tag or digest: summary, pull commands, platforms of an index, config, layers, the manifest itself. */
export function Image({ name, reference, onSession }: { name: string; reference: string; onSession: (s: Session) => void }) {
  const { data, error } = useGet<ImagePage>(`/v2/_berth/images/${name}/${reference}`);
  const [deleting, setDeleting] = useState(false);
  const [deleted, setDeleted] = useState(false);
  const shown = reference.includes(':') ? `@${shortDigest(reference)}` : `:${reference}`;
  return (
    <section>
      <nav class="crumbs" aria-label="Breadcrumbs">
        <a href={links.repositories()}>Repositories</a> / <a href={links.repository(name)}>{name}</a>
      </nav>
      <div class="heading">
        <h1>
          {name}
          <span class="muted">{shown}</span>
        </h1>
      </div>
      {error ? <ErrorView error={error} onSession={onSession} /> : null}
      {deleted && <p role="status">Deleted. <a href={links.repository(name)}>Back to {name}</a></p>}
      {data && !deleted && (
        <>
          <dl class="facts">
            <Fact term="Digest">
              <code>{data.digest}</code> <CopyButton text={data.digest} />
            </Fact>
            <Fact term="Media type">{data.mediaType}</Fact>
            <Fact term="Artifact type" when={data.artifactType}>
              {data.artifactType}
            </Fact>
            <Fact term="Size">{bytes(data.size)}</Fact>
            <Fact term="Created">
              <span title={createdTitle(data.created)}>{ago(data.created)}</span>
            </Fact>
            <Fact term="Last pushed">
              <span title={exact(data.pushed)}>{data.pushed ? ago(data.pushed) : 'not recorded'}</span>
            </Fact>
            <Fact term="Last pulled">
              {data.pulled ? (
                <span title={exact(data.pulled)}>
                  {ago(data.pulled)} · pulled {pullCount(data.pulls)}
                </span>
              ) : (
                <span class="muted">never</span>
              )}
            </Fact>
            <Fact term="Tags">{data.tags.length ? data.tags.map((t) => <a key={t} class="badge" href={links.image(name, t)}>{t}</a>) : <span class="muted">none</span>}</Fact>
            <Fact term="Referrers">
              <a href={links.referrers(name, data.digest)}>{data.referrers} referrer{data.referrers === 1 ? '' : 's'}</a>
              {data.attestationManifests.length > 0 && <span class="muted"> · {data.attestationManifests.length} attestation manifests in the index</span>}
            </Fact>
            <Fact term="Subject" when={data.subject}>
              <a href={links.image(name, data.subject ?? '')}>{shortDigest(data.subject ?? '')}</a>
            </Fact>
          </dl>
          <h2>Pull</h2>
          <PullCommands name={name} reference={reference} />
          {isIndex(data.mediaType) ? (
            <>
              <h2>Platforms</h2>
              <table class="platforms-table">
                <Head columns={['Platform', 'Digest', 'Size', 'Created']} />
                <tbody>
                  {data.platforms.map((p) => (
                    <tr key={p.digest} data-platform={platformName(p)}>
                      <td data-label="Platform">
                        <a href={links.image(name, p.digest)}>{platformName(p)}</a>
                        {p.missing && <span class="muted"> (not stored here)</span>}
                      </td>
                      <td data-label="Digest">
                        <code title={p.digest}>{shortDigest(p.digest)}</code>
                      </td>
                      <td data-label="Size">{bytes(p.size)}</td>
                      <td data-label="Created" title={createdTitle(p.created)}>
                        {ago(p.created)}
                      </td>
                    </tr>
                  ))}
                </tbody>
              </table>
            </>
          ) : null}
          {data.config && <Config config={data.config} />}
          {data.layers.length > 0 && (
            <>
              <h2>Layers</h2>
              <table class="layers">
                <Head columns={['#', 'Digest', 'Size', 'Created by']} />
                <tbody>
                  {data.layers.map((l, i) => (
                    <tr key={`${i}${l.digest}`}>
                      <td data-label="#">{i + 1}</td>
                      <td data-label="Digest">
                        <code title={`${l.digest} (${l.mediaType})`}>{shortDigest(l.digest)}</code>
                      </td>
                      <td data-label="Size">{bytes(l.size)}</td>
                      <td data-label="Created by">
                        <code class="wrap">{l.createdBy ?? ''}</code>
                      </td>
                    </tr>
                  ))}
                </tbody>
              </table>
            </>
          )}
          <details>
            <summary>Manifest</summary>
            <pre class="json">{JSON.stringify(data.manifest, null, 2)}</pre>
          </details>
          {data.canDelete && (
            <p>
              <button type="button" class="danger" onClick={() => setDeleting(true)}>
                Delete manifest…
              </button>
            </p>
          )}
        </>
      )}
      {deleting && data && (
        <Confirm
          title="Delete this manifest?"
          action="Delete manifest"
          onClose={() => setDeleting(false)}
          onConfirm={async () => {
            await request('DELETE', `/v2/${name}/manifests/${data.digest}`);
            setDeleted(true);
          }}
        >
          <p>
            The manifest <code>{shortDigest(data.digest)}</code> is removed from {name}
            {data.tags.length > 0 ? (
              <>
                , and with it every tag pointing at it: <strong>{data.tags.join(', ')}</strong>
              </>
            ) : null}
            . Its blobs are reclaimed by the next garbage collection.
          </p>
        </Confirm>
      )}
    </section>
  );
}

function Config({ config }: { config: ConfigDetail }) {
  const labels = Object.entries(config.labels);
  return (
    <>
      <h2>Configuration</h2>
      <dl class="facts">
        <Fact term="Platform">{platformName(config)}</Fact>
        <Fact term="Entrypoint" when={config.entrypoint}>
          <code>{JSON.stringify(config.entrypoint)}</code>
        </Fact>
        <Fact term="Command" when={config.cmd}>
          <code>{JSON.stringify(config.cmd)}</code>
        </Fact>
        <Fact term="Working directory" when={config.workingDir}>
          <code>{config.workingDir}</code>
        </Fact>
        <Fact term="User" when={config.user}>
          <code>{config.user}</code>
        </Fact>
        <Fact term="Ports" when={config.exposedPorts.length}>
          {config.exposedPorts.join(', ')}
        </Fact>
        <Fact term="Volumes" when={config.volumes.length}>
          {config.volumes.join(', ')}
        </Fact>
        <Fact term="Author" when={config.author}>
          {config.author}
        </Fact>
      </dl>
      {config.env.length > 0 && (
        <>
          <h3>Environment</h3>
          <ul class="env">
            {config.env.map((e, i) => (
              <li key={i}>
                <code>{e}</code>
              </li>
            ))}
          </ul>
        </>
      )}
      {labels.length > 0 && (
        <>
          <h3>Labels</h3>
          <dl class="facts labels">
            {labels.map(([k, v]) => (
              <Fact term={k} key={k}>
                {v}
              </Fact>
            ))}
          </dl>
        </>
      )}
      {config.history.length > 0 && (
        <details>
          <summary>History ({config.history.length} steps)</summary>
          <ol class="history">
            {config.history.map((h, i) => (
              <li key={i} class={h.emptyLayer ? 'muted' : undefined}>
                <code class="wrap">{h.createdBy ?? h.comment ?? ''}</code>
                {h.created && <span class="muted"> · {ago(h.created)}</span>}
              </li>
            ))}
          </ol>
        </details>
      )}
    </>
  );
}
