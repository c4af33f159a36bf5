import type { Digest } from '../oci/digest.js';
import { MediaTypes, type Descriptor } from '../oci/descriptor.js';
import { compareBytes } from './listing/sorted.js';
import type { RepositoryManifests } from './repository.js';

/**
 * The manifests of a repository whose subject is `subject` (optionally of one artifact type), as
 * descriptors for a referrers index, sorted by digest. Computed from the repository's revisions,
 * whose parsed content is cached by digest (docs/architecture.md, "Referrers are computed").
 */
export async function findReferrers(manifests: RepositoryManifests, subject: Digest, artifactType?: string): Promise<Descriptor[]> {
  const out: Descriptor[] = [];
  for (const digest of await manifests.revisions()) {
    const info = await manifests.info(digest);
    if (!info || info.subject?.digest.value !== subject.value) continue;
    if (artifactType !== undefined && info.artifactType !== artifactType) continue;
    out.push({ mediaType: info.mediaType, digest, size: info.size, artifactType: info.artifactType, annotations: info.annotations });
  }
  return out.sort((a, b) => compareBytes(a.digest.value, b.digest.value));
}

/** The image index the referrers API answers (and the referrers tag schema's tag holds). */
export function referrersIndex(referrers: readonly Descriptor[]): { schemaVersion: 2; mediaType: string; manifests: Record<string, unknown>[] } {
  return {
    schemaVersion: 2,
    mediaType: MediaTypes.ociIndex,
    manifests: referrers.map((d) => ({
      mediaType: d.mediaType,
      digest: d.digest.value,
      size: d.size,
      ...(d.artifactType !== undefined ? { artifactType: d.artifactType } : {}),
      ...(d.annotations !== undefined ? { annotations: d.annotations } : {}),
    })),
  };
}
