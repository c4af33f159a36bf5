import { RegistryError } from '../oci/errors.js';
import { parseDigest } from '../oci/digest.js';
import { findReferrers } from '../storage/referrers.js';
import type { Repository } from '../storage/repository.js';
import { MediaTypes } from '../oci/descriptor.js';
import { type Context, sendJson } from './context.js';

/** GET /v2/<name>/referrers/<digest>[?artifactType=] — an image index of the subject's referrers. */
export async function handleReferrers(ctx: Context, repo: Repository, reference: string): Promise<void> {
  if (ctx.method !== 'GET' && ctx.method !== 'HEAD') throw new RegistryError('UNSUPPORTED', 'method not allowed', undefined, { headers: { Allow: 'GET' } });
  const subject = parseDigest(reference);
  const artifactType = ctx.query.get('artifactType') ?? undefined;
  const found = await findReferrers(repo.manifests, subject, artifactType);
  const manifests = found.map((d) => ({
    mediaType: d.mediaType,
    digest: d.digest.value,
    size: d.size,
    ...(d.artifactType !== undefined ? { artifactType: d.artifactType } : {}),
    ...(d.annotations !== undefined ? { annotations: d.annotations } : {}),
  }));
  const headers: Record<string, string> = artifactType !== undefined ? { 'OCI-Filters-Applied': 'artifactType' } : {};
  sendJson(ctx, 200, { schemaVersion: 2, mediaType: MediaTypes.ociIndex, manifests }, headers, MediaTypes.ociIndex);
}
