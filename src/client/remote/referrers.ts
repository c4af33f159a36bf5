/**
 * Referrers: the API (`GET /v2/<name>/referrers/<digest>`) where the registry has it, else the
 * spec's fallback, an index tagged `<alg>-<hex>` that clients keep up to date when they push a
 * manifest with a subject and the registry does not say it processed it (no `OCI-Subject`).
 */
import { MediaTypes, descriptorJson, parseDescriptorList, type Descriptor } from '../../oci/descriptor.js';
import { digestOf } from '../../oci/digest.js';
import { parseJsonObject, readManifest, referrersTag } from '../../oci/graph.js';
import { NotFoundError } from '../errors.js';
import { header, readBuffer, discard } from '../http/transport.js';
import type { BlobContext } from './blobs.js';
import { fetchManifest, MAX_MANIFEST_BYTES, putManifest } from './manifests.js';

export interface ReferrersState {
  /** Whether the registry answered the referrers API (undefined: not asked yet). */
  api?: boolean;
}

function filter(list: Descriptor[], artifactType: string | undefined): Descriptor[] {
  return artifactType ? list.filter((d) => d.artifactType === artifactType) : list;
}

async function fallbackIndex(c: BlobContext, subject: Descriptor, signal?: AbortSignal): Promise<Descriptor[]> {
  try {
    const { content } = await fetchManifest(c, referrersTag(subject.digest), signal);
    return parseDescriptorList(parseJsonObject(content, 'referrers index').manifests, 'manifests', false);
  } catch (err) {
    if (err instanceof NotFoundError) return [];
    throw err;
  }
}

export async function listReferrers(c: BlobContext, state: ReferrersState, subject: Descriptor, artifactType?: string, signal?: AbortSignal): Promise<Descriptor[]> {
  if (state.api !== false) {
    const query = artifactType ? `?artifactType=${encodeURIComponent(artifactType)}` : '';
    const res = await c.registry.request({
      method: 'GET', path: `/v2/${c.name}/referrers/${subject.digest.value}${query}`, headers: { Accept: MediaTypes.ociIndex },
      scopes: [`repository:${c.name}:pull`], repository: c.name, expect: [200, 404], notFound: 'NAME_UNKNOWN', signal,
    });
    if (res.status === 200) {
      state.api = true;
      const doc = parseJsonObject(await readBuffer(res, MAX_MANIFEST_BYTES), 'referrers index');
      const list = parseDescriptorList(doc.manifests, 'manifests', false);
      const applied = (header(res, 'oci-filters-applied') ?? '').split(',').map((s) => s.trim());
      return applied.includes('artifactType') ? list : filter(list, artifactType);
    }
    await discard(res);
    // A registry with the API answers 200 (an empty list) for any subject: 404 means no API.
    state.api = false;
  }
  return filter(await fallbackIndex(c, subject, signal), artifactType);
}

/** Adds a pushed manifest to its subject's fallback index (when the registry did not process the subject). */
export async function addToFallback(c: BlobContext, desc: Descriptor, content: Buffer, signal?: AbortSignal): Promise<void> {
  const node = readManifest(desc.mediaType, content);
  if (!node.subject) return;
  const existing = await fallbackIndex(c, node.subject, signal);
  if (existing.some((d) => d.digest.value === desc.digest.value)) return;
  const entry: Record<string, unknown> = { mediaType: desc.mediaType, digest: desc.digest.value, size: desc.size };
  if (node.artifactType) entry.artifactType = node.artifactType;
  if (node.annotations) entry.annotations = node.annotations;
  const index = Buffer.from(JSON.stringify({
    schemaVersion: 2,
    mediaType: MediaTypes.ociIndex,
    manifests: [...existing.map(descriptorJson), entry],
  }));
  const indexDesc: Descriptor = { mediaType: MediaTypes.ociIndex, digest: digestOf(index), size: index.length };
  await putManifest(c, indexDesc, index, referrersTag(node.subject.digest), signal);
}
