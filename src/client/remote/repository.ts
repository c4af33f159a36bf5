/**
 * A repository of a registry over HTTP: a Target (fetch, push, exists, resolve, tag) for copy(),
 * and the whole API beside it: blobs (HEAD, verified and resumed GET, monolithic and chunked
 * uploads, mount, delete), manifests of every media type, tags, referrers.
 */
import { Readable } from 'node:stream';
import type { Descriptor } from '../../oci/descriptor.js';
import { digestOf, parseDigest, type Digest } from '../../oci/digest.js';
import { isManifestMediaType } from '../../oci/graph.js';
import { isValidTag } from '../../oci/names.js';
import type { Mounter, Options, ReferencePusher, ReferrerLister, TagLister, Target } from '../content/storage.js';
import { mismatch, readAll, toStream } from '../content/verify.js';
import { NotFoundError } from '../errors.js';
import { deleteBlob, fetchBlob, mountBlob, statBlob, uploadBlob, type UploadContent, type UploadOptions } from './blobs.js';
import { deleteManifest, fetchManifest, headManifest, MAX_MANIFEST_BYTES, putManifest } from './manifests.js';
import { paginate } from './paginate.js';
import { addToFallback, listReferrers, type ReferrersState } from './referrers.js';
import type { Registry } from './registry.js';

function digestArg(d: Digest | string | Descriptor): Digest {
  if (typeof d === 'string') return parseDigest(d);
  return 'value' in d ? d : d.digest;
}

export class Repository implements Target, Mounter, ReferencePusher, ReferrerLister, TagLister {
  readonly name: string;
  readonly registry: string;
  private readonly referrersState: ReferrersState = {};

  constructor(readonly client: Registry, readonly repository: string) {
    this.registry = client.host;
    this.name = `${client.host}/${repository}`;
  }

  private get ctx() {
    return { registry: this.client, name: this.repository };
  }

  // --- Target ---------------------------------------------------------------------------------

  async fetch(desc: Descriptor, opts: Options = {}): Promise<Readable> {
    if (!isManifestMediaType(desc.mediaType)) return fetchBlob(this.ctx, desc, opts.signal);
    const { content } = await fetchManifest(this.ctx, desc.digest.value, opts.signal);
    if (content.length !== desc.size) throw mismatch(desc, `manifest has ${content.length} bytes`);
    return Readable.from([content]);
  }

  async exists(desc: Descriptor, opts: Options = {}): Promise<boolean> {
    if (isManifestMediaType(desc.mediaType)) return (await headManifest(this.ctx, desc.digest.value, opts.signal)) !== undefined;
    return (await statBlob(this.ctx, desc.digest, opts.signal)) !== undefined;
  }

  async push(desc: Descriptor, content: Readable | Buffer, opts: Options = {}): Promise<void> {
    if (isManifestMediaType(desc.mediaType)) {
      await this.pushManifestBytes(desc, await readAll(toStream(content), MAX_MANIFEST_BYTES), desc.digest.value, opts.signal);
      return;
    }
    await uploadBlob(this.ctx, content, { digest: desc.digest, size: desc.size, signal: opts.signal });
  }

  async pushReference(desc: Descriptor, content: Buffer, tag: string, opts: Options = {}): Promise<void> {
    await this.pushManifestBytes(desc, content, tag, opts.signal);
  }

  async resolve(reference: string, opts: Options = {}): Promise<Descriptor> {
    const desc = await headManifest(this.ctx, reference, opts.signal);
    if (!desc) throw new NotFoundError(`${this.name}:${reference} not found`, { code: 'MANIFEST_UNKNOWN', info: { registry: this.registry, method: 'HEAD', url: `/v2/${this.repository}/manifests/${reference}` }, status: 404 });
    return desc;
  }

  async tag(desc: Descriptor, tag: string, opts: Options = {}): Promise<void> {
    const { content } = await fetchManifest(this.ctx, desc.digest.value, opts.signal);
    await this.pushManifestBytes(desc, content, tag, opts.signal);
  }

  // --- Mounter, referrers, tags ---------------------------------------------------------------

  mount(desc: Descriptor, fromRepository: string, getContent: () => Promise<Readable>, opts: Options = {}): Promise<'mounted' | 'pushed'> {
    return mountBlob(this.ctx, desc, fromRepository, getContent, opts.signal);
  }

  referrers(desc: Descriptor, opts: Options & { artifactType?: string } = {}): Promise<Descriptor[]> {
    return listReferrers(this.ctx, this.referrersState, desc, opts.artifactType, opts.signal);
  }

  tags(opts: Options & { last?: string; pageSize?: number } = {}): AsyncIterable<string> {
    return paginate(this.client, `/v2/${this.repository}/tags/list`, 'tags', { ...opts, scopes: [`repository:${this.repository}:pull`], repository: this.repository });
  }

  // --- Manifests ------------------------------------------------------------------------------

  /** A manifest's bytes and descriptor by tag or digest (verified against the digest). */
  fetchManifest(reference: string, opts: Options = {}): Promise<{ descriptor: Descriptor; content: Buffer }> {
    return fetchManifest(this.ctx, reference, opts.signal);
  }

  /** HEAD: the descriptor of a manifest by tag or digest, undefined when there is none. */
  headManifest(reference: string, opts: Options = {}): Promise<Descriptor | undefined> {
    return headManifest(this.ctx, reference, opts.signal);
  }

  /** Pushes manifest bytes of `mediaType`, by digest or under a tag; returns the descriptor. */
  async pushManifest(content: Buffer, o: { mediaType: string; tag?: string; signal?: AbortSignal }): Promise<Descriptor> {
    const desc: Descriptor = { mediaType: o.mediaType, digest: digestOf(content), size: content.length };
    if (o.tag !== undefined && !isValidTag(o.tag)) throw new TypeError(`invalid tag ${JSON.stringify(o.tag)}`);
    await this.pushManifestBytes(desc, content, o.tag ?? desc.digest.value, o.signal);
    return desc;
  }

  private async pushManifestBytes(desc: Descriptor, content: Buffer, reference: string, signal?: AbortSignal): Promise<void> {
    const got = digestOf(content, desc.digest.algorithm);
    if (got.value !== desc.digest.value || content.length !== desc.size) throw mismatch(desc, `manifest bytes hash to ${got.value} (${content.length} bytes)`);
    const { subjectProcessed } = await putManifest(this.ctx, desc, content, reference, signal);
    if (!subjectProcessed) await addToFallback(this.ctx, desc, content, signal);
  }

  /** Deletes a manifest by digest (or, where the registry allows it, a tag). */
  deleteManifest(reference: Digest | string | Descriptor, opts: Options = {}): Promise<void> {
    const ref = typeof reference === 'string' && isValidTag(reference) ? reference : digestArg(reference).value;
    return deleteManifest(this.ctx, ref, opts.signal);
  }

  // --- Blobs ----------------------------------------------------------------------------------

  /** HEAD: a blob's size, undefined when the repository does not have it. */
  statBlob(digest: Digest | string, opts: Options = {}): Promise<number | undefined> {
    return statBlob(this.ctx, digestArg(digest), opts.signal);
  }

  /** A blob's content, verified and resumed (see remote/blobs.ts). */
  fetchBlob(desc: Descriptor, opts: Options = {}): Promise<Readable> {
    return fetchBlob(this.ctx, desc, opts.signal);
  }

  /** Uploads a blob from a buffer, a stream or a function that opens one; returns its digest and size. */
  uploadBlob(content: UploadContent, opts: UploadOptions = {}): Promise<{ digest: Digest; size: number }> {
    return uploadBlob(this.ctx, content, opts);
  }

  deleteBlob(digest: Digest | string, opts: Options = {}): Promise<void> {
    return deleteBlob(this.ctx, digestArg(digest), opts.signal);
  }
}
