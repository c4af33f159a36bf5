import { RegistryError } from '../../oci/errors.js';
import { digestOf, type Digest } from '../../oci/digest.js';
import type { StorageDriver } from '../driver/types.js';
import type { BlobStore } from '../blobs.js';
import type { LinkedBlobStore } from '../linked-blobs.js';
import type { LruCache } from '../lru.js';
import { metadataKeys, type MetadataCache, type MetadataKey } from '../metadata-cache.js';
import type { RepositoryManifests } from '../repository.js';
import type { TagStore } from '../tags.js';
import { deleteIfExists, listNames, readLink, writeLink } from '../links.js';
import { LINK_READS, mapLimit } from '../map-limit.js';
import { revisionDir, revisionLinkPath, revisionsDir } from '../paths.js';
import { DigestAlgorithms, type DigestAlgorithm } from '../../oci/digest.js';
import { detectMediaType, handlers } from '../../oci/formats.js';
import { MediaTypes, invalid, isObject, type Descriptor, type ManifestInfo } from '../../oci/descriptor.js';
import type { ReferrersTagKeeper } from './referrers-tags.js';
import { immutableTagError, type StorageRules } from '../rules.js';

/** The spec asks registries to accept manifests of at least 4 MiB; we accept exactly that. */
export const MAX_MANIFEST_BYTES = 4 * 1024 * 1024;

export interface ManifestPolicy {
  /** validation.disabled: skip checking that referenced blobs and manifests exist. */
  skipReferenceChecks: boolean;
  /**
   * validation.manifests.urls: which external URLs a descriptor may name. An empty allow list
   * allows every http(s) URL (the image spec wants non-distributable layers accepted), where
   * Distribution refuses them all; a configured one is applied as Distribution applies it.
   */
  urlsAllow: RegExp[];
  urlsDeny: RegExp[];
  /**
   * validation.manifests.indexes: whether an index's child must already be here (all of them when
   * absent; Distribution v3's `none` and `list` of platforms).
   */
  indexChildRequired?: (child: Descriptor) => boolean;
  /** berth.referrers.fallbacktags: the referrers tag schema kept up to date (undefined: off). */
  referrersTags?: ReferrersTagKeeper;
}

export interface StoredManifest {
  digest: Digest;
  content: Buffer;
  info: ManifestInfo & { size: number };
}

export type CachedInfo = ManifestInfo & { size: number };

/** A repository's manifests: content in the blob store, presence as `_manifests/revisions` links. */
export class ManifestStore implements RepositoryManifests {
  constructor(
    private readonly driver: StorageDriver,
    private readonly blobs: BlobStore,
    private readonly linked: LinkedBlobStore,
    private readonly tags: TagStore,
    private readonly policy: ManifestPolicy,
    private readonly infoCache: LruCache<CachedInfo>,
    private readonly meta: MetadataCache,
    readonly name: string,
    private readonly rules: StorageRules,
  ) {}

  async has(digest: Digest): Promise<boolean> {
    const deleting = this.blobs.use(digest);
    if (deleting) await deleting;
    const present = await this.meta.through(this.key(digest), async () =>
      (await readLink(this.driver, revisionLinkPath(this.name, digest)))?.value === digest.value ? true : undefined,
    );
    return present === true;
  }

  private key(digest: Digest): MetadataKey<true> {
    return metadataKeys.revision(this.name, digest);
  }

  /** Whether the revision's presence is cached and no deletion of it is under way (recording the use, as `has` does). */
  private cachedPresent(digest: Digest): boolean {
    return !this.blobs.use(digest) && this.meta.get(this.key(digest)) === true;
  }

  cachedStat(digest: Digest): CachedInfo | undefined {
    return this.cachedPresent(digest) ? this.infoCache.get(digest.value) : undefined;
  }

  cached(digest: Digest): StoredManifest | undefined {
    if (!this.cachedPresent(digest)) return undefined;
    const content = this.blobs.cachedContent(digest);
    const info = this.infoCache.get(digest.value);
    return content && info ? { digest, content, info } : undefined;
  }

  /** Size and format of a revision, read from the cache when possible (for HEAD). */
  async stat(digest: Digest): Promise<CachedInfo | undefined> {
    if (!(await this.has(digest))) return undefined;
    const cached = this.infoCache.get(digest.value);
    if (cached) return cached;
    return (await this.get(digest))?.info;
  }

  async get(digest: Digest): Promise<StoredManifest | undefined> {
    return (await this.has(digest)) ? this.read(digest) : undefined;
  }

  /** The revision's content, for a caller that has just seen it present (the mirror, after fetching it). */
  async read(digest: Digest): Promise<StoredManifest | undefined> {
    const content = await this.blobs.getContent(digest);
    if (!content) return undefined;
    return { digest, content, info: this.describeStored(digest, content) };
  }

  async put(content: Buffer, contentType: string | undefined, reference: { tag?: string; digest?: Digest }): Promise<StoredManifest> {
    if (content.length > MAX_MANIFEST_BYTES) {
      throw new RegistryError('MANIFEST_INVALID', `manifest larger than ${MAX_MANIFEST_BYTES} bytes`, undefined, { status: 413 });
    }
    const algorithm = reference.digest?.algorithm ?? 'sha256';
    const digest = digestOf(content, algorithm);
    if (reference.digest && reference.digest.value !== digest.value) {
      throw new RegistryError('DIGEST_INVALID', 'manifest digest does not match its content', { expected: reference.digest.value, actual: digest.value });
    }
    const info = describe(content, contentType);
    if (!this.policy.skipReferenceChecks) await this.checkReferences(info);
    // Immutable tags and quotas refuse before anything is written.
    if (reference.tag) await this.tags.checkTag(reference.tag, digest);
    const hold = await this.rules.reserve(this.name, digest, content.length);
    try {
      await this.blobs.putContent(digest, content);
      await writeLink(this.driver, revisionLinkPath(this.name, digest), digest);
      this.meta.set(this.key(digest), true);
    } finally {
      hold.release();
    }
    if (reference.tag) await this.tags.tag(reference.tag, digest);
    const cached = { ...info, size: content.length };
    this.infoCache.set(digest.value, cached);
    if (info.subject) await this.policy.referrersTags?.update(this, this.tags, info.subject.digest);
    return { digest, content, info: cached };
  }

  /** Removes the revision and every tag that points at it. False when the repository has no such revision. */
  async delete(digest: Digest): Promise<boolean> {
    if (!(await this.has(digest))) return false;
    const tags = await this.tags.lookup(digest);
    for (const tag of tags) {
      const rule = this.rules.immutable(this.name, tag);
      if (rule) throw immutableTagError(this.name, tag, rule, `its manifest ${digest.value} cannot be deleted`);
    }
    const subject = this.policy.referrersTags ? (await this.info(digest))?.subject : undefined;
    for (const tag of tags) await this.tags.untag(tag);
    await deleteIfExists(this.driver, revisionDir(this.name, digest));
    if (subject) await this.policy.referrersTags?.update(this, this.tags, subject.digest);
    return true;
  }

  /**
   * Every revision in the repository. The links are read LINK_READS at a time: on an object store
   * each is a GET, and thousands of them one after another took seconds.
   */
  async revisions(): Promise<Digest[]> {
    const out: Digest[] = [];
    for (const algorithm of Object.keys(DigestAlgorithms) as DigestAlgorithm[]) {
      const dir = `${revisionsDir(this.name)}/${algorithm}`;
      const links = await mapLimit(await listNames(this.driver, dir), LINK_READS, async (hex) => {
        const link = await readLink(this.driver, `${dir}/${hex}/link`);
        return link?.hex === hex ? link : undefined;
      });
      for (const link of links) if (link) out.push(link);
    }
    return out;
  }

  /** Parsed facts about a revision's content (immutable per digest, so cached). */
  async info(digest: Digest): Promise<CachedInfo | undefined> {
    const cached = this.infoCache.get(digest.value);
    if (cached) return cached;
    const content = await this.blobs.getContent(digest);
    return content ? this.describeStored(digest, content) : undefined;
  }

  private describeStored(digest: Digest, content: Buffer): CachedInfo {
    const cached = this.infoCache.get(digest.value);
    if (cached) return cached;
    let info: ManifestInfo;
    try {
      info = describe(content, undefined);
    } catch {
      // Content written by another registry that we cannot classify is still served as it is.
      info = { mediaType: guessStoredMediaType(content), blobs: [], manifests: [] };
    }
    const result = { ...info, size: content.length };
    this.infoCache.set(digest.value, result);
    return result;
  }

  /** Throws one MANIFEST_BLOB_UNKNOWN per missing blob or child manifest, all in one answer. */
  private async checkReferences(info: ManifestInfo): Promise<void> {
    const errors: RegistryError[] = [];
    for (const blob of info.blobs) {
      // A descriptor with URLs (non-distributable and Docker foreign layers) is fetched from
      // there by clients: its blob need not be here, as in Distribution.
      if (blob.urls && blob.urls.length > 0) {
        for (const url of blob.urls) this.checkUrl(url, blob);
      } else if (!(await this.linked.stat(blob.digest))) {
        errors.push(new RegistryError('MANIFEST_BLOB_UNKNOWN', undefined, { digest: blob.digest.value }));
      }
    }
    for (const child of info.manifests) {
      if (this.policy.indexChildRequired && !this.policy.indexChildRequired(child)) continue;
      if (!(await this.has(child.digest))) {
        errors.push(new RegistryError('MANIFEST_BLOB_UNKNOWN', 'manifest references a manifest unknown to the repository', { digest: child.digest.value }));
      }
    }
    const [first, ...rest] = errors;
    if (first) throw RegistryError.all([first, ...rest]);
  }

  private checkUrl(url: string, blob: Descriptor): void {
    const parsed = URL.canParse(url) ? new URL(url) : undefined;
    const ok =
      parsed !== undefined &&
      (parsed.protocol === 'http:' || parsed.protocol === 'https:') &&
      parsed.hash === '' &&
      (this.policy.urlsAllow.length === 0 || this.policy.urlsAllow.some((re) => re.test(url))) &&
      !this.policy.urlsDeny.some((re) => re.test(url));
    if (!ok) throw invalid('descriptor URL not allowed by validation.manifests.urls', { digest: blob.digest.value, url });
  }
}

function describe(content: Buffer, contentType: string | undefined): ManifestInfo {
  let doc: unknown;
  try {
    doc = JSON.parse(content.toString('utf8'));
  } catch {
    throw invalid('manifest is not valid JSON');
  }
  if (!isObject(doc)) throw invalid('manifest must be a JSON object');
  const declared = contentType?.split(';')[0]!.trim().toLowerCase() || undefined;
  // The request's Content-Type must name the format (a bare JSON type is tolerated for old clients),
  // and must agree with the document's own mediaType.
  if (declared && declared !== 'application/json' && !handlers.has(declared) && declared !== MediaTypes.dockerSchema1 && declared !== MediaTypes.dockerSchema1Signed) {
    throw invalid('unsupported manifest media type', { mediaType: declared });
  }
  if (declared && handlers.has(declared) && typeof doc.mediaType === 'string' && doc.mediaType !== declared) {
    throw invalid('manifest mediaType does not match Content-Type', { mediaType: doc.mediaType, contentType: declared });
  }
  const mediaType = detectMediaType(doc, declared);
  if (mediaType === MediaTypes.dockerSchema1 || mediaType === MediaTypes.dockerSchema1Signed) {
    throw invalid('Docker schema 1 manifests are not supported', { mediaType });
  }
  const handler = handlers.get(mediaType);
  if (!handler) throw invalid('unsupported manifest media type', { mediaType });
  return handler.describe(doc);
}

function guessStoredMediaType(content: Buffer): string {
  try {
    const doc = JSON.parse(content.toString('utf8'));
    if (isObject(doc)) return detectMediaType(doc);
  } catch {
    // fall through
  }
  return 'application/octet-stream';
}
