/**
 * copy(source, destination, options): an image, a whole index or one platform of it, between
 * two registries, within one, or to and from an OCI layout directory. References are strings in
 * the grammar the CLI shares (`HOST[:PORT]/REPO[:TAG|@DIGEST]`, `oci:DIR[:TAG]`), parsed
 * references, or a target with a reference (any Target: memory, your own).
 */
import type { Descriptor } from '../../oci/descriptor.js';
import { isIndexMediaType, readManifest } from '../../oci/graph.js';
import { formatPlatform, nodePlatform, parsePlatform, platformMatches, type Platform } from '../../oci/platform.js';
import { parseReference, type Reference } from '../../oci/reference.js';
import { AuthClient } from '../auth/client.js';
import { isReferencePusher, type Target } from '../content/storage.js';
import { readAll } from '../content/verify.js';
import { ContentNotFoundError, ClientError } from '../errors.js';
import { OciLayout } from '../layout/oci-layout.js';
import { MAX_MANIFEST_BYTES } from '../remote/manifests.js';
import { createClient, Registry, type ClientOptions } from '../remote/registry.js';
import { copyGraph, type CopyStats, type GraphCopyOptions } from './graph.js';

/** A place to copy from or to: a reference string, a parsed reference, or a target and a tag or digest. */
export type Endpoint = string | Reference | { target: Target; reference?: string };

export interface CopyOptions extends Omit<GraphCopyOptions, 'rootTag'> {
  /**
   * For an index: copy it whole (the default), or with `false` only the image for this process's
   * platform (as skopeo does without --all).
   */
  all?: boolean;
  /** For an index: copy only the image for this platform (`os/arch[/variant]`); the destination gets that image. */
  platform?: string | Platform;
  /** Connections, auth, TLS and retries for references to registries. */
  client?: ClientOptions | AuthClient;
}

export interface CopyResult extends CopyStats {
  /** What the destination now holds (the chosen image when a platform was asked for). */
  descriptor: Descriptor;
  /** The tag the destination got, if any. */
  tag?: string;
}

interface Opened {
  target: Target;
  tag?: string;
  digest?: string;
}

function open(endpoint: Endpoint, client: () => AuthClient): Opened {
  if (typeof endpoint === 'object' && 'target' in endpoint) {
    const ref = endpoint.reference;
    const isDigest = ref !== undefined && ref.includes(':');
    return { target: endpoint.target, tag: isDigest ? undefined : ref, digest: isDigest ? ref : undefined };
  }
  const ref = typeof endpoint === 'string' ? parseReference(endpoint) : endpoint;
  const target = ref.kind === 'layout' ? new OciLayout(ref.path) : new Registry(ref.host, { client: client() }).repository(ref.repository);
  return { target, tag: ref.tag, digest: ref.digest?.value };
}

/** The entry of an index for `wanted`, or a ContentNotFoundError listing what the index has. */
async function choosePlatform(src: Target, index: Descriptor, wanted: Platform, signal?: AbortSignal): Promise<Descriptor> {
  const content = await readAll(await src.fetch(index, { signal }), MAX_MANIFEST_BYTES);
  const entries = readManifest(index.mediaType, content).manifests;
  const hit = entries.find((m) => m.platform && platformMatches(wanted, m.platform));
  if (!hit) {
    const have = entries.map((m) => (m.platform ? formatPlatform(m.platform) : 'unknown')).join(', ');
    throw new ContentNotFoundError(`${src.name}: no image for ${formatPlatform(wanted)} in ${index.digest.value} (has ${have || 'none'})`, { code: 'MANIFEST_UNKNOWN' });
  }
  return hit;
}

export async function copy(source: Endpoint, destination: Endpoint, options: CopyOptions = {}): Promise<CopyResult> {
  let shared: AuthClient | undefined;
  const client = () => (shared ??= options.client instanceof AuthClient ? options.client : createClient(options.client));
  const src = open(source, client);
  const dst = open(destination, client);
  const reference = src.digest ?? src.tag;
  if (!reference) throw new ClientError(`${src.target.name}: the source needs a tag or a digest`, { code: 'NAME_INVALID' });

  let root = await src.target.resolve(reference, { signal: options.signal });
  if (isIndexMediaType(root.mediaType) && (options.platform !== undefined || options.all === false)) {
    const wanted = options.platform === undefined ? nodePlatform(process.platform, process.arch)
      : typeof options.platform === 'string' ? parsePlatform(options.platform) : options.platform;
    root = await choosePlatform(src.target, root, wanted, options.signal);
  }
  if (dst.digest && dst.digest !== root.digest.value) {
    throw new ClientError(`${dst.target.name}: destination digest ${dst.digest} is not the source's ${root.digest.value}`, { code: 'DIGEST_INVALID' });
  }
  // Without a tag of its own the destination gets the source's tag (copying by digest gives none).
  const tag = dst.tag ?? (dst.digest ? undefined : src.tag);

  const stats = await copyGraph(src.target, dst.target, root, { ...options, rootTag: tag });
  if (!isReferencePusher(dst.target)) {
    if (tag !== undefined) await dst.target.tag(root, tag, { signal: options.signal });
    else if (dst.target instanceof OciLayout) await dst.target.record(root);
  }
  return { ...stats, descriptor: root, tag };
}
