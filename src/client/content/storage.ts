/**
 * What every home of content implements, whatever it is (a registry over HTTP, an OCI layout
 * directory, memory): small interfaces, so that copy() and callers never care where bytes live.
 * Content is addressed by descriptor (media type, digest, size); tags resolve to descriptors.
 */
import type { Readable } from 'node:stream';
import type { Descriptor } from '../../oci/descriptor.js';

export interface Options {
  signal?: AbortSignal;
}

export interface Fetcher {
  /** The content, verified against the descriptor's digest and size as it streams. */
  fetch(desc: Descriptor, opts?: Options): Promise<Readable>;
}

export interface Pusher {
  /** Stores content; refused (DigestMismatchError) when it does not match the descriptor. */
  push(desc: Descriptor, content: Readable | Buffer, opts?: Options): Promise<void>;
}

export interface ReadOnlyStorage extends Fetcher {
  exists(desc: Descriptor, opts?: Options): Promise<boolean>;
}

export interface Storage extends ReadOnlyStorage, Pusher {}

export interface Resolver {
  /** A tag or digest to the descriptor of the manifest it names. */
  resolve(reference: string, opts?: Options): Promise<Descriptor>;
}

export interface Tagger {
  /** Points a tag at a manifest the target already holds. */
  tag(desc: Descriptor, tag: string, opts?: Options): Promise<void>;
}

/** Storage with tags: what copy() reads from and writes to. */
export interface Target extends Storage, Resolver, Tagger {
  /** How the target is named in messages (`host/repo`, `oci:DIR`). */
  readonly name: string;
}

/** Pushes a manifest and tags it in one step (a registry's PUT by tag). */
export interface ReferencePusher {
  pushReference(desc: Descriptor, content: Buffer, tag: string, opts?: Options): Promise<void>;
}

/** Reuses a blob another repository of the same registry holds. */
export interface Mounter {
  /** The registry that holds both repositories (`host[:port]`). */
  readonly registry: string;
  readonly repository: string;
  /**
   * Mounts `desc` from `fromRepository`. When the registry declines (and starts an upload
   * instead, as the spec allows), the content from `getContent` is pushed into that upload.
   */
  mount(desc: Descriptor, fromRepository: string, getContent: () => Promise<Readable>, opts?: Options): Promise<'mounted' | 'pushed'>;
}

export interface ReferrerLister {
  /** Manifests whose subject is `desc`, optionally of one artifact type. */
  referrers(desc: Descriptor, opts?: Options & { artifactType?: string }): Promise<Descriptor[]>;
}

export interface TagLister {
  tags(opts?: Options & { last?: string; pageSize?: number }): AsyncIterable<string>;
}

export function isMounter(t: object): t is Mounter {
  return typeof (t as Partial<Mounter>).mount === 'function';
}

export function isReferencePusher(t: object): t is ReferencePusher {
  return typeof (t as Partial<ReferencePusher>).pushReference === 'function';
}
