import { tryParseDigest, type Digest } from './digest.js';
import { isValidName, isValidTag } from './names.js';

/**
 * The reference grammar the client library and the `berth` command share:
 *
 *   HOST[:PORT]/REPO[:TAG][@DIGEST]      an image in a registry (`docker://` in front is accepted)
 *   oci:DIR[:TAG] | oci:DIR@DIGEST       an image in an OCI image layout directory
 *
 * HOST is recognised as Docker does: the first path component is a host when it holds a `.` or
 * a `:`, is `localhost`, or is a bracketed IPv6 address. There is no default registry: a
 * reference without a host is refused rather than sent somewhere the caller did not name.
 * As in skopeo, the directory of an `oci:` reference ends at its first colon.
 */
export type Reference = RemoteReference | LayoutReference;

export interface RemoteReference {
  readonly kind: 'remote';
  /** `host[:port]` as written (IPv6 hosts keep their brackets). */
  readonly host: string;
  readonly repository: string;
  readonly tag?: string;
  readonly digest?: Digest;
}

export interface LayoutReference {
  readonly kind: 'layout';
  readonly path: string;
  /** The `org.opencontainers.image.ref.name` of an entry in index.json. */
  readonly tag?: string;
  readonly digest?: Digest;
}

export class ReferenceError extends Error {
  constructor(readonly reference: string, reason: string) {
    super(`invalid reference ${JSON.stringify(reference)}: ${reason}`);
    this.name = 'ReferenceError';
  }
}

const HOST = /^(?:\[[0-9a-fA-F:.%]+\]|[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?(?:\.[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?)*)(?::[0-9]{1,5})?$/;

// The image spec's grammar for org.opencontainers.image.ref.name.
const REF_NAME = /^[A-Za-z0-9]+(?:(?:[-._:@+]|--)[A-Za-z0-9]+)*(?:\/[A-Za-z0-9]+(?:(?:[-._:@+]|--)[A-Za-z0-9]+)*)*$/;

export function isValidRefName(name: string): boolean {
  return REF_NAME.test(name);
}

function looksLikeHost(component: string): boolean {
  return component.includes('.') || component.includes(':') || component === 'localhost' || component.startsWith('[');
}

function digestPart(text: string, at: number, whole: string): Digest | undefined {
  if (at < 0) return undefined;
  const d = tryParseDigest(text.slice(at + 1));
  if (!d) throw new ReferenceError(whole, `${JSON.stringify(text.slice(at + 1))} is not a digest (sha256:<64 hex> or sha512:<128 hex>)`);
  return d;
}

export function parseReference(text: string): Reference {
  if (text.startsWith('oci:')) return parseLayout(text);
  const body = text.startsWith('docker://') ? text.slice('docker://'.length) : text;
  const slash = body.indexOf('/');
  const first = slash < 0 ? body : body.slice(0, slash);
  if (slash < 0 || !looksLikeHost(first)) throw new ReferenceError(text, 'no registry host (write HOST[:PORT]/REPO[:TAG|@DIGEST], or oci:DIR[:TAG])');
  if (!HOST.test(first)) throw new ReferenceError(text, `${JSON.stringify(first)} is not a host[:port]`);
  let rest = body.slice(slash + 1);
  const at = rest.indexOf('@');
  const digest = digestPart(rest, at, text);
  if (at >= 0) rest = rest.slice(0, at);
  const colon = rest.lastIndexOf(':');
  let tag: string | undefined;
  if (colon > rest.lastIndexOf('/')) {
    tag = rest.slice(colon + 1);
    rest = rest.slice(0, colon);
    if (!isValidTag(tag)) throw new ReferenceError(text, `${JSON.stringify(tag)} is not a valid tag`);
  }
  if (!isValidName(rest)) throw new ReferenceError(text, `${JSON.stringify(rest)} is not a valid repository name (lower case, digits, separators . _ __ -)`);
  return { kind: 'remote', host: first, repository: rest, tag, digest };
}

function parseLayout(text: string): LayoutReference {
  let rest = text.slice('oci:'.length);
  const at = rest.lastIndexOf('@');
  let digest: Digest | undefined;
  if (at >= 0 && tryParseDigest(rest.slice(at + 1))) {
    digest = digestPart(rest, at, text);
    rest = rest.slice(0, at);
  }
  const colon = rest.indexOf(':');
  const path = colon < 0 ? rest : rest.slice(0, colon);
  const tag = colon < 0 ? undefined : rest.slice(colon + 1);
  if (path === '') throw new ReferenceError(text, 'no directory after oci:');
  if (tag !== undefined && !isValidRefName(tag)) throw new ReferenceError(text, `${JSON.stringify(tag)} is not a valid reference name`);
  if (tag !== undefined && digest) throw new ReferenceError(text, 'an oci: reference takes a tag or a digest, not both');
  return { kind: 'layout', path, tag, digest };
}

/** The reference written back in the grammar above. */
export function formatReference(ref: Reference): string {
  const suffix = (ref.tag ? `:${ref.tag}` : '') + (ref.digest ? `@${ref.digest.value}` : '');
  return ref.kind === 'layout' ? `oci:${ref.path}${suffix}` : `${ref.host}/${ref.repository}${suffix}`;
}

/** The tag or digest a manifest is addressed by in a URL: the digest wins when both are given. */
export function manifestReference(ref: { tag?: string; digest?: Digest }): string | undefined {
  return ref.digest?.value ?? ref.tag;
}

/** Loopback hosts, reached over plain http by default (as Docker does): 127.0.0.0/8, localhost, [::1]. */
export function isLoopbackHost(host: string): boolean {
  const name = host.startsWith('[') ? host.slice(1, host.indexOf(']')) : host.replace(/:[0-9]+$/, '');
  if (name === 'localhost' || name === '::1') return true;
  return /^127\.(?:[0-9]{1,3})\.(?:[0-9]{1,3})\.(?:[0-9]{1,3})$/.test(name);
}
