import { RegistryError } from './errors.js';
import { tryParseDigest, type Digest } from './digest.js';
import { platformOf, type Platform } from './platform.js';

export const MediaTypes = {
  dockerManifest: 'application/vnd.docker.distribution.manifest.v2+json',
  dockerManifestList: 'application/vnd.docker.distribution.manifest.list.v2+json',
  dockerSchema1: 'application/vnd.docker.distribution.manifest.v1+json',
  dockerSchema1Signed: 'application/vnd.docker.distribution.manifest.v1+prettyjws',
  ociManifest: 'application/vnd.oci.image.manifest.v1+json',
  ociIndex: 'application/vnd.oci.image.index.v1+json',
  ociEmpty: 'application/vnd.oci.empty.v1+json',
  /** The artifact manifest of image-spec 1.1's release candidates, still written by old ORAS versions. */
  ociArtifact: 'application/vnd.oci.artifact.manifest.v1+json',
} as const;

export interface Descriptor {
  mediaType: string;
  digest: Digest;
  size: number;
  urls?: string[];
  artifactType?: string;
  annotations?: Record<string, string>;
  /** An index entry's platform; kept when well formed, never a reason to refuse a manifest. */
  platform?: Platform;
}

/** What the registry needs to know about a stored manifest; derived once per digest and cached. */
export interface ManifestInfo {
  mediaType: string;
  artifactType?: string;
  subject?: Descriptor;
  annotations?: Record<string, string>;
  /** Blobs the manifest needs in the repository (config and layers). */
  blobs: Descriptor[];
  /** Manifests an index or manifest list names. */
  manifests: Descriptor[];
}

/** One manifest format: checks a parsed document and says what it references. */
export interface ManifestHandler {
  readonly mediaType: string;
  describe(doc: Record<string, unknown>): ManifestInfo;
}

export function invalid(message: string, detail?: unknown): RegistryError {
  return new RegistryError('MANIFEST_INVALID', message, detail);
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function stringMap(v: unknown, where: string): Record<string, string> | undefined {
  if (v === undefined) return undefined;
  if (!isObject(v) || !Object.values(v).every((x) => typeof x === 'string')) throw invalid(`${where} must be a map of strings`);
  return v as Record<string, string>;
}

export function parseDescriptor(v: unknown, where: string): Descriptor {
  if (!isObject(v)) throw invalid(`${where} must be a descriptor object`);
  const { mediaType, digest, size, urls, artifactType, annotations, data, platform } = v;
  if (typeof mediaType !== 'string' || mediaType === '') throw invalid(`${where}.mediaType must be a non-empty string`);
  const d = typeof digest === 'string' ? tryParseDigest(digest) : undefined;
  if (!d) throw invalid(`${where}.digest is not a valid digest`, { digest });
  if (typeof size !== 'number' || !Number.isSafeInteger(size) || size < 0) throw invalid(`${where}.size must be a non-negative integer`);
  if (urls !== undefined && (!Array.isArray(urls) || !urls.every((u) => typeof u === 'string'))) throw invalid(`${where}.urls must be a list of strings`);
  if (artifactType !== undefined && typeof artifactType !== 'string') throw invalid(`${where}.artifactType must be a string`);
  if (data !== undefined) {
    if (typeof data !== 'string' || !/^[A-Za-z0-9+/]*={0,2}$/.test(data)) throw invalid(`${where}.data must be base64`);
    const bytes = Buffer.from(data, 'base64');
    if (bytes.length !== size) throw invalid(`${where}.data does not have the descriptor's size`);
  }
  const out: Descriptor = { mediaType, digest: d, size, urls: urls as string[] | undefined, artifactType: artifactType as string | undefined, annotations: stringMap(annotations, `${where}.annotations`) };
  const p = platformOf(platform);
  if (p) out.platform = p;
  return out;
}

/** A descriptor back in its wire form (digest as a string), for writing an index. */
export function descriptorJson(d: Descriptor): Record<string, unknown> {
  const out: Record<string, unknown> = { mediaType: d.mediaType, digest: d.digest.value, size: d.size };
  if (d.urls) out.urls = d.urls;
  if (d.artifactType) out.artifactType = d.artifactType;
  if (d.annotations) out.annotations = d.annotations;
  if (d.platform) out.platform = d.platform;
  return out;
}

export function parseDescriptorList(v: unknown, where: string, required: boolean): Descriptor[] {
  if (v === undefined || v === null) {
    if (required) throw invalid(`${where} is required`);
    return [];
  }
  if (!Array.isArray(v)) throw invalid(`${where} must be a list`);
  return v.map((item, i) => parseDescriptor(item, `${where}[${i}]`));
}

/** Fields every version-2 manifest shares: schemaVersion, mediaType (when present), annotations, subject. */
export function commonFields(doc: Record<string, unknown>, mediaType: string, mediaTypeRequired: boolean) {
  if (doc.schemaVersion !== 2) throw invalid('schemaVersion must be 2');
  if (doc.mediaType === undefined ? mediaTypeRequired : doc.mediaType !== mediaType) {
    throw invalid(`mediaType must be ${mediaType}`, { mediaType: doc.mediaType });
  }
  if (doc.artifactType !== undefined && typeof doc.artifactType !== 'string') throw invalid('artifactType must be a string');
  return {
    artifactType: doc.artifactType as string | undefined,
    annotations: stringMap(doc.annotations, 'annotations'),
    subject: doc.subject === undefined ? undefined : parseDescriptor(doc.subject, 'subject'),
  };
}

export { isObject };
