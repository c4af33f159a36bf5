import { RegistryError } from '../oci/errors.js';
import { parseDigest } from '../oci/digest.js';
import { findReferrers, referrersIndex } from '../storage/referrers.js';
import type { Repository } from '../storage/repository.js';
import { MediaTypes } from '../oci/descriptor.js';
import { type Context, sendJson } from './context.js';

/** GET /v2/<name>/referrers/<digest>[?artifactType=] — an image index of the subject's referrers. */
export async function handleReferrers(ctx: Context, repo: Repository, reference: string): Promise<void> {
  if (ctx.method !== 'GET' && ctx.method !== 'HEAD') throw new RegistryError('UNSUPPORTED', 'method not allowed', undefined, { headers: { Allow: 'GET' } });
  const subject = parseDigest(reference);
  const artifactType = ctx.query.get('artifactType') ?? undefined;
  const found = await findReferrers(repo.manifests, subject, artifactType);
  const headers: Record<string, string> = artifactType !== undefined ? { 'OCI-Filters-Applied': 'artifactType' } : {};
  sendJson(ctx, 200, referrersIndex(found), headers, MediaTypes.ociIndex);
}
