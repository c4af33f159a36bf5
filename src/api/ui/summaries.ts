import { tryParseDigest, type Digest } from '../../oci/digest.js';
import { MediaTypes, isObject } from '../../oci/descriptor.js';
import { LruCache } from '../../storage/lru.js';
import type { BlobStore } from '../../storage/blobs.js';
import type { ManifestSummary, PlatformSummary } from './shapes.js';

/** A summary plus what only the server needs: the manifest's own bytes and the blobs it names itself. */
interface Entry {
  summary: ManifestSummary;
  ownBytes: number;
  /** digest → size of the config and layers (an image); empty for an index. */
  blobs: Map<string, number>;
}

/** A stored manifest parsed: its JSON and its content size. */
export interface ParsedManifest {
  doc: Record<string, unknown>;
  bytes: number;
  mediaType: string;
}

const IMAGE_CONFIG_TYPES: ReadonlySet<string> = new Set(['application/vnd.oci.image.config.v1+json', 'application/vnd.docker.container.image.v1+json']);
const INDEX_TYPES: ReadonlySet<string> = new Set([MediaTypes.ociIndex, MediaTypes.dockerManifestList]);
/** Image configs larger than this are not read (real ones are a few KiB). */
const MAX_CONFIG_BYTES = 4 * 1024 * 1024;
const CREATED_ANNOTATION = 'org.opencontainers.image.created';

export function isIndex(mediaType: string): boolean {
  return INDEX_TYPES.has(mediaType);
}

export function isImageConfig(mediaType: string): boolean {
  return IMAGE_CONFIG_TYPES.has(mediaType);
}

/** An index entry buildx adds for provenance and SBOM attestations (not a platform). */
export function isAttestationEntry(d: Record<string, unknown>): boolean {
  const a = d.annotations;
  return isObject(a) && a['vnd.docker.reference.type'] === 'attestation-manifest';
}

export class Summaries {
  private readonly cache = new LruCache<Entry>(20_000);
  private readonly pending = new Map<string, Promise<Entry | undefined>>();

  constructor(private readonly blobs: BlobStore) {}

  /** The summary of stored content `digest` (the caller has checked the repository holds it); undefined when it is gone. */
  async get(digest: Digest): Promise<ManifestSummary | undefined> {
    return (await this.entry(digest))?.summary;
  }

  /** The manifest's own bytes and the blobs it names itself (for a repository's size). */
  async parts(digest: Digest): Promise<{ ownBytes: number; blobs: ReadonlyMap<string, number> } | undefined> {
    return this.entry(digest);
  }

  private entry(digest: Digest, depth = 0): Promise<Entry | undefined> {
    const cached = this.cache.get(digest.value);
    if (cached) return Promise.resolve(cached);
    let running = this.pending.get(digest.value);
    if (!running) {
      running = this.compute(digest, depth)
        .then((entry) => {
          if (entry) this.cache.set(digest.value, entry);
          return entry;
        })
        .finally(() => this.pending.delete(digest.value));
      this.pending.set(digest.value, running);
    }
    return running;
  }

  /** The stored manifest as JSON; undefined when absent or not a JSON object. */
  async manifest(digest: Digest): Promise<ParsedManifest | undefined> {
    const content = await this.blobs.getContent(digest);
    if (!content) return undefined;
    const doc = parseJson(content);
    if (!doc) return undefined;
    const mediaType = typeof doc.mediaType === 'string' ? doc.mediaType : Array.isArray(doc.manifests) ? MediaTypes.ociIndex : MediaTypes.ociManifest;
    return { doc, bytes: content.length, mediaType };
  }

  /** An image config blob as JSON, when it is one and small enough to read. */
  async config(descriptor: unknown): Promise<Record<string, unknown> | undefined> {
    if (!isObject(descriptor) || typeof descriptor.mediaType !== 'string' || !isImageConfig(descriptor.mediaType)) return undefined;
    const digest = typeof descriptor.digest === 'string' ? tryParseDigest(descriptor.digest) : undefined;
    if (!digest || typeof descriptor.size !== 'number' || descriptor.size > MAX_CONFIG_BYTES) return undefined;
    const content = await this.blobs.getContent(digest);
    return content ? parseJson(content) : undefined;
  }

  private async compute(digest: Digest, depth: number): Promise<Entry | undefined> {
    const m = await this.manifest(digest);
    if (!m) return undefined;
    const { doc } = m;
    const annotations = isObject(doc.annotations) ? doc.annotations : {};
    const annotated = createdTime(annotations[CREATED_ANNOTATION]);
    const subject = isObject(doc.subject) && typeof doc.subject.digest === 'string' ? doc.subject.digest : null;
    const base = { digest: digest.value, mediaType: m.mediaType, artifactType: artifactTypeOf(doc), subject };
    if (isIndex(m.mediaType)) {
      const platforms: PlatformSummary[] = [];
      const blobs = new Map<string, number>();
      let size = m.bytes;
      let attestations = 0;
      let created: string | null = null;
      for (const d of descriptors(doc.manifests)) {
        if (isAttestationEntry(d.raw)) attestations++;
        const child = depth < 2 ? await this.entry(d.digest, depth + 1) : undefined;
        if (child) {
          size += child.ownBytes;
          for (const [b, s] of child.blobs) blobs.set(b, s);
        } else size += d.size;
        if (isAttestationEntry(d.raw)) continue;
        const platform = isObject(d.raw.platform) ? d.raw.platform : {};
        const own = child?.summary.platforms[0];
        const entry: PlatformSummary = {
          digest: d.digest.value,
          mediaType: d.mediaType,
          os: str(platform.os) ?? own?.os ?? null,
          architecture: str(platform.architecture) ?? own?.architecture ?? null,
          variant: str(platform.variant) ?? own?.variant ?? null,
          size: child ? child.summary.size : d.size,
          created: child?.summary.created ?? null,
        };
        if (!child) entry.missing = true;
        if (entry.created && (created === null || entry.created > created)) created = entry.created;
        platforms.push(entry);
      }
      for (const s of blobs.values()) size += s;
      return { summary: { ...base, size, created: created ?? annotated, platforms, attestations, layerCount: 0 }, ownBytes: m.bytes, blobs: new Map() };
    }
    const blobs = new Map<string, number>();
    const layers = descriptors(doc.layers);
    const config = descriptors([doc.config])[0];
    for (const d of config ? [config, ...layers] : layers) blobs.set(d.digest.value, d.size);
    const cfg = await this.config(doc.config);
    let size = m.bytes;
    for (const s of blobs.values()) size += s;
    const platforms: PlatformSummary[] = [];
    if (cfg && typeof cfg.os === 'string') {
      platforms.push({ digest: digest.value, mediaType: m.mediaType, os: cfg.os, architecture: str(cfg.architecture), variant: str(cfg.variant), size, created: createdTime(cfg.created) });
    }
    const created = createdTime(cfg?.created) ?? annotated;
    return { summary: { ...base, size, created, platforms, attestations: 0, layerCount: layers.length }, ownBytes: m.bytes, blobs };
  }
}

/** The spec's artifact type: artifactType, else an image manifest's config media type (when not an image config). */
function artifactTypeOf(doc: Record<string, unknown>): string | null {
  if (typeof doc.artifactType === 'string') return doc.artifactType;
  const cfgType = isObject(doc.config) ? doc.config.mediaType : undefined;
  if (typeof cfgType === 'string' && !isImageConfig(cfgType) && cfgType !== MediaTypes.ociEmpty) return cfgType;
  return null;
}

export interface ParsedDescriptor {
  mediaType: string;
  digest: Digest;
  size: number;
  raw: Record<string, unknown>;
}

/** The well-formed descriptors of a list (stored content was checked on push; content another registry wrote may not be). */
export function descriptors(list: unknown): ParsedDescriptor[] {
  if (!Array.isArray(list)) return [];
  const out: ParsedDescriptor[] = [];
  for (const raw of list) {
    if (!isObject(raw) || typeof raw.digest !== 'string' || typeof raw.size !== 'number') continue;
    const digest = tryParseDigest(raw.digest);
    if (digest) out.push({ mediaType: typeof raw.mediaType === 'string' ? raw.mediaType : '', digest, size: raw.size, raw });
  }
  return out;
}

export function str(v: unknown): string | null {
  return typeof v === 'string' && v !== '' ? v : null;
}

/**
 * A creation time as the pages report it: the text when it is a time after the Unix epoch, else
 * null ("not recorded"). Reproducible builds write the epoch itself (SOURCE_DATE_EPOCH=0), some
 * tools Go's zero time (year 1); neither says when the image was made, and a time that does not
 * parse would sort among real ones by its text.
 */
export function createdTime(v: unknown): string | null {
  const text = str(v);
  if (text === null) return null;
  const ms = Date.parse(text);
  return ms > 0 ? text : null;
}

function parseJson(content: Buffer): Record<string, unknown> | undefined {
  try {
    const doc: unknown = JSON.parse(content.toString('utf8'));
    return isObject(doc) ? doc : undefined;
  } catch {
    return undefined;
  }
}
