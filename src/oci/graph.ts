import { MediaTypes, invalid, isObject, parseDescriptor, parseDescriptorList, type Descriptor } from './descriptor.js';
import type { Digest } from './digest.js';
import { handlers } from './formats.js';

/**
 * The manifest graph: a manifest's successors are the nodes it names (an image's config and
 * layers, an index's manifests, and the subject a referrer points at). Blobs have none. Copying
 * a graph leaves first means copying every successor before the node itself, which is the order
 * registries require (a manifest is refused while what it names is missing).
 */
export const manifestMediaTypes: readonly string[] = [
  MediaTypes.ociManifest,
  MediaTypes.ociIndex,
  MediaTypes.dockerManifest,
  MediaTypes.dockerManifestList,
  MediaTypes.ociArtifact,
];

/** The Accept header for manifest requests: every format the graph knows. */
export const manifestAccept = manifestMediaTypes.join(', ');

export function isManifestMediaType(mediaType: string): boolean {
  return manifestMediaTypes.includes(mediaType);
}

export function isIndexMediaType(mediaType: string): boolean {
  return mediaType === MediaTypes.ociIndex || mediaType === MediaTypes.dockerManifestList;
}

export function parseJsonObject(content: Uint8Array, what: string): Record<string, unknown> {
  let doc: unknown;
  try {
    doc = JSON.parse(Buffer.from(content.buffer, content.byteOffset, content.byteLength).toString('utf8'));
  } catch {
    throw invalid(`${what} is not JSON`);
  }
  if (!isObject(doc)) throw invalid(`${what} is not a JSON object`);
  return doc;
}

export interface ManifestNode {
  /** Config then layers (image), children (index), or blobs (artifact manifest). */
  successors: Descriptor[];
  subject?: Descriptor;
  /** Index entries with their platforms, for choosing one. */
  manifests: Descriptor[];
  /** The spec's artifact type for referrers: artifactType, else an OCI image's config media type. */
  artifactType?: string;
  annotations?: Record<string, string>;
}

/** Reads a manifest of a known media type; throws MANIFEST_INVALID for a malformed one. */
export function readManifest(mediaType: string, content: Uint8Array): ManifestNode {
  const doc = parseJsonObject(content, 'manifest');
  if (mediaType === MediaTypes.ociArtifact) {
    const blobs = parseDescriptorList(doc.blobs, 'blobs', false);
    const subject = doc.subject === undefined ? undefined : parseDescriptor(doc.subject, 'subject');
    const artifactType = typeof doc.artifactType === 'string' ? doc.artifactType : undefined;
    const annotations = isObject(doc.annotations) ? (doc.annotations as Record<string, string>) : undefined;
    return { successors: blobs, subject, manifests: [], artifactType, annotations };
  }
  const handler = handlers.get(mediaType);
  if (!handler) throw invalid(`unsupported manifest media type ${mediaType}`);
  const info = handler.describe(doc);
  return { successors: [...info.blobs, ...info.manifests], subject: info.subject, manifests: info.manifests, artifactType: info.artifactType, annotations: info.annotations };
}

/** Every node `desc` names, subject included; none for a blob. */
export function successors(desc: Descriptor, content: Uint8Array): Descriptor[] {
  if (!isManifestMediaType(desc.mediaType)) return [];
  const node = readManifest(desc.mediaType, content);
  return node.subject ? [...node.successors, node.subject] : node.successors;
}

/**
 * The tag that stands in for the referrers API on registries without it (distribution-spec
 * 1.1, "referrers tag schema"): `<alg>-<ref>`, the subject's encoded digest limited to 64
 * characters (a sha512 subject's tag holds the first half of its hex).
 */
export function referrersTag(digest: Digest): string {
  return `${digest.algorithm}-${digest.hex.slice(0, 64)}`;
}
