import type { ManifestHandler, ManifestInfo } from './descriptor.js';
import { MediaTypes, commonFields, invalid, parseDescriptor, parseDescriptorList } from './descriptor.js';

/** An image manifest: a config blob and layers (Docker schema 2 and OCI share the shape). */
function imageManifest(mediaType: string, mediaTypeRequired: boolean): ManifestHandler {
  return {
    mediaType,
    describe(doc): ManifestInfo {
      const common = commonFields(doc, mediaType, mediaTypeRequired);
      if (doc.manifests !== undefined) throw invalid('an image manifest has no manifests field');
      const config = parseDescriptor(doc.config, 'config');
      const layers = parseDescriptorList(doc.layers, 'layers', true);
      if (mediaType === MediaTypes.dockerManifest && (common.subject || common.artifactType)) {
        throw invalid('Docker schema 2 manifests carry no subject or artifactType');
      }
      return {
        mediaType,
        // The spec's rule for referrers: artifactType, else the config's media type.
        artifactType: common.artifactType ?? (mediaType === MediaTypes.ociManifest ? config.mediaType : undefined),
        subject: common.subject,
        annotations: common.annotations,
        blobs: [config, ...layers],
        manifests: [],
      };
    },
  };
}

/** An index of manifests (OCI image index, Docker manifest list). */
function manifestIndex(mediaType: string, mediaTypeRequired: boolean): ManifestHandler {
  return {
    mediaType,
    describe(doc): ManifestInfo {
      const common = commonFields(doc, mediaType, mediaTypeRequired);
      if (doc.config !== undefined || doc.layers !== undefined) throw invalid('an index has no config or layers');
      const manifests = parseDescriptorList(doc.manifests, 'manifests', true);
      if (mediaType === MediaTypes.dockerManifestList && (common.subject || common.artifactType)) {
        throw invalid('Docker manifest lists carry no subject or artifactType');
      }
      return { mediaType, artifactType: common.artifactType, subject: common.subject, annotations: common.annotations, blobs: [], manifests };
    },
  };
}

export const handlers: ReadonlyMap<string, ManifestHandler> = new Map(
  [
    imageManifest(MediaTypes.dockerManifest, true),
    imageManifest(MediaTypes.ociManifest, false),
    manifestIndex(MediaTypes.dockerManifestList, true),
    manifestIndex(MediaTypes.ociIndex, false),
  ].map((h) => [h.mediaType, h]),
);

/**
 * Which format a document is: its own mediaType field first, then the request's Content-Type,
 * then its shape (OCI allows mediaType to be absent).
 */
export function detectMediaType(doc: Record<string, unknown>, contentType?: string): string {
  if (typeof doc.mediaType === 'string') return doc.mediaType;
  if (contentType && handlers.has(contentType)) return contentType;
  if (doc.schemaVersion === 1) return MediaTypes.dockerSchema1;
  if (Array.isArray(doc.manifests)) return MediaTypes.ociIndex;
  return MediaTypes.ociManifest;
}
