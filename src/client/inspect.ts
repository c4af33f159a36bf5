/**
 * What `berth inspect` shows about a manifest, read from any target: its descriptor; for an
 * index, its entries and their platforms; for an image, its config (platform, created, labels)
 * and layers with their sizes; for an artifact, its type and subject. Field names are stable
 * (docs/cli.md documents them): programs read them from `berth inspect --format json`.
 */
import type { Descriptor } from '../oci/descriptor.js';
import { isIndexMediaType, parseJsonObject, readManifest } from '../oci/graph.js';
import { formatPlatform, platformOf } from '../oci/platform.js';
import type { Fetcher, Resolver } from './content/storage.js';
import { readAll } from './content/verify.js';
import { MAX_MANIFEST_BYTES } from './remote/manifests.js';

export interface BlobSummary {
  digest: string;
  mediaType: string;
  size: number;
  annotations?: Record<string, string>;
}

export interface ManifestSummary {
  digest: string;
  mediaType: string;
  /** Bytes of the manifest itself. */
  size: number;
  artifactType?: string;
  annotations?: Record<string, string>;
  /** The digest of the manifest this one refers to. */
  subject?: string;
  /** An index's entries. */
  manifests?: (BlobSummary & { platform?: string; artifactType?: string })[];
  /** An image's config and layers. */
  config?: BlobSummary;
  layers?: BlobSummary[];
  /** Config and layers together: what a pull of this image moves. */
  contentSize?: number;
  /** From the image config: `os/architecture[/variant]`, when it has them. */
  platform?: string;
  created?: string;
  labels?: Record<string, string>;
}

const CONFIG_TYPES = new Set(['application/vnd.oci.image.config.v1+json', 'application/vnd.docker.container.image.v1+json']);

const blob = (d: Descriptor): BlobSummary => ({ digest: d.digest.value, mediaType: d.mediaType, size: d.size, ...(d.annotations ? { annotations: d.annotations } : {}) });

/** The manifest's bytes (for `--raw`). */
export async function fetchManifestBytes(target: Fetcher, desc: Descriptor, signal?: AbortSignal): Promise<Buffer> {
  return readAll(await target.fetch(desc, { signal }), MAX_MANIFEST_BYTES);
}

/** The image config's bytes (for `--config`), or undefined for an index or an artifact without one. */
export async function fetchConfigBytes(target: Fetcher, desc: Descriptor, content: Buffer, signal?: AbortSignal): Promise<Buffer | undefined> {
  if (isIndexMediaType(desc.mediaType)) return undefined;
  const config = readManifest(desc.mediaType, content).successors[0];
  if (!config || config.size > MAX_MANIFEST_BYTES) return undefined;
  return readAll(await target.fetch(config, { signal }), MAX_MANIFEST_BYTES);
}

export async function inspect(target: Fetcher & Resolver, reference: string, o: { signal?: AbortSignal } = {}): Promise<ManifestSummary> {
  const desc = await target.resolve(reference, o);
  const content = await fetchManifestBytes(target, desc, o.signal);
  const node = readManifest(desc.mediaType, content);
  const out: ManifestSummary = { digest: desc.digest.value, mediaType: desc.mediaType, size: desc.size };
  const doc = parseJsonObject(content, 'manifest');
  if (typeof doc.artifactType === 'string') out.artifactType = doc.artifactType;
  if (node.annotations) out.annotations = node.annotations;
  if (node.subject) out.subject = node.subject.digest.value;
  if (isIndexMediaType(desc.mediaType)) {
    out.manifests = node.manifests.map((m) => ({
      ...blob(m),
      ...(m.platform ? { platform: formatPlatform(m.platform) } : {}),
      ...(m.artifactType ? { artifactType: m.artifactType } : {}),
    }));
    return out;
  }
  const [config, ...layers] = node.successors;
  if (config && doc.config !== undefined) {
    out.config = blob(config);
    out.layers = layers.map(blob);
  } else {
    out.layers = node.successors.map(blob); // an artifact manifest: blobs only
  }
  out.contentSize = node.successors.reduce((n, d) => n + d.size, 0);
  if (config && CONFIG_TYPES.has(config.mediaType)) {
    const bytes = await fetchConfigBytes(target, desc, content, o.signal);
    if (bytes) Object.assign(out, imageConfigFacts(bytes));
  }
  return out;
}

/** platform, created and labels of an image config; whatever is malformed is left out. */
function imageConfigFacts(bytes: Buffer): Pick<ManifestSummary, 'platform' | 'created' | 'labels'> {
  let doc: Record<string, unknown>;
  try {
    doc = parseJsonObject(bytes, 'config');
  } catch {
    return {};
  }
  const out: Pick<ManifestSummary, 'platform' | 'created' | 'labels'> = {};
  const p = platformOf(doc);
  if (p) out.platform = formatPlatform(p);
  if (typeof doc.created === 'string') out.created = doc.created;
  const cfg = doc.config as Record<string, unknown> | undefined;
  const labels = cfg && typeof cfg === 'object' ? cfg.Labels : undefined;
  if (labels && typeof labels === 'object' && Object.values(labels).every((v) => typeof v === 'string') && Object.keys(labels).length > 0) {
    out.labels = labels as Record<string, string>;
  }
  return out;
}
