/** Pulls a manifest and everything it references through the HTTP API, checking every digest. */
import assert from 'node:assert/strict';
import type { Registry } from '../helpers/registry.js';
import { digest } from '../helpers/content.js';
import { getManifest } from '../helpers/push.js';

export async function assertPullable(reg: Registry, repo: string, ref: string): Promise<void> {
  const res = await getManifest(reg, repo, ref);
  assert.equal(res.status, 200, `GET ${repo}:${ref} → ${res.status} ${res.text().slice(0, 200)}`);
  const body = res.body;
  if (ref.includes(':')) assert.equal(digest(body), ref, `${repo}@${ref} content matches its digest`);
  const doc = JSON.parse(body.toString('utf8')) as { config?: { digest: string }; layers?: { digest: string; urls?: string[] }[]; manifests?: { digest: string }[] };
  const blobs: ({ digest: string; urls?: string[] } | undefined)[] = [doc.config, ...(doc.layers ?? [])];
  for (const d of blobs) {
    if (!d) continue;
    // A layer with URLs is fetched from them; the registry need not hold it (and this one never had it).
    if (d.urls?.length) {
      assert.equal((await reg.req('HEAD', `/v2/${repo}/blobs/${d.digest}`)).status, 404, `foreign layer ${d.digest} of ${repo}:${ref}`);
      continue;
    }
    const b = await reg.req('GET', `/v2/${repo}/blobs/${d.digest}`);
    assert.equal(b.status, 200, `GET blob ${d.digest} of ${repo}:${ref} → ${b.status}`);
    assert.equal(digest(b.body), d.digest, `blob ${d.digest} content`);
  }
  for (const m of doc.manifests ?? []) await assertPullable(reg, repo, m.digest);
}
