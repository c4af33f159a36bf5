/**
 * Manifests over HTTP, of every media type: fetched by tag or digest with their bytes verified,
 * HEAD for the descriptor, pushed by digest or tag, deleted.
 */
import type { Descriptor } from '../../oci/descriptor.js';
import { digestOf, tryParseDigest, type Digest } from '../../oci/digest.js';
import { detectMediaType } from '../../oci/formats.js';
import { isManifestMediaType, manifestAccept, parseJsonObject } from '../../oci/graph.js';
import { ProtocolError } from '../errors.js';
import { mismatch } from '../content/verify.js';
import { discard, header, readBuffer, type HttpResponse } from '../http/transport.js';
import type { BlobContext } from './blobs.js';

/** The spec's recommended manifest size limit, which registries (Berth, Distribution) apply. */
export const MAX_MANIFEST_BYTES = 4 << 20;

const path = (c: BlobContext, reference: string) => `/v2/${c.name}/manifests/${reference}`;

function mediaTypeOf(res: HttpResponse, content?: Buffer): string {
  const declared = header(res, 'content-type')?.split(';')[0]?.trim();
  if (declared && declared !== 'application/json' && declared !== 'application/octet-stream') return declared;
  return content ? detectMediaType(parseJsonObject(content, 'manifest')) : declared ?? 'application/octet-stream';
}

/** The digest the bytes have: checked against a digest reference and against Docker-Content-Digest. */
function verifiedDigest(res: HttpResponse, reference: string, content: Buffer): Digest {
  const asked = tryParseDigest(reference);
  const announced = tryParseDigest(header(res, 'docker-content-digest') ?? '');
  const expected = asked ?? announced;
  const digest = digestOf(content, expected?.algorithm ?? 'sha256');
  if (expected && digest.value !== expected.value) throw mismatch({ mediaType: '', digest: expected, size: content.length }, `manifest bytes hash to ${digest.value}`, res.info);
  return digest;
}

export async function fetchManifest(c: BlobContext, reference: string, signal?: AbortSignal): Promise<{ descriptor: Descriptor; content: Buffer }> {
  const res = await c.registry.request({
    method: 'GET', path: path(c, reference), headers: { Accept: manifestAccept }, scopes: [`repository:${c.name}:pull`], repository: c.name,
    expect: [200], notFound: 'MANIFEST_UNKNOWN', signal,
  });
  const content = await readBuffer(res, MAX_MANIFEST_BYTES);
  return { descriptor: { mediaType: mediaTypeOf(res, content), digest: verifiedDigest(res, reference, content), size: content.length }, content };
}

/** HEAD: the manifest's descriptor without its bytes (a GET when the registry sends no digest). */
export async function headManifest(c: BlobContext, reference: string, signal?: AbortSignal): Promise<Descriptor | undefined> {
  const res = await c.registry.request({
    method: 'HEAD', path: path(c, reference), headers: { Accept: manifestAccept }, scopes: [`repository:${c.name}:pull`], repository: c.name,
    expect: [200, 404], notFound: 'MANIFEST_UNKNOWN', signal,
  });
  await discard(res);
  if (res.status === 404) return undefined;
  const digest = tryParseDigest(header(res, 'docker-content-digest') ?? '') ?? tryParseDigest(reference);
  const size = Number(header(res, 'content-length'));
  const mediaType = mediaTypeOf(res);
  if (!digest || !Number.isSafeInteger(size) || !isManifestMediaType(mediaType)) return (await fetchManifest(c, reference, signal)).descriptor;
  return { mediaType, digest, size };
}

/** PUT by digest or tag. Returns whether the registry processed the subject (OCI-Subject). */
export async function putManifest(c: BlobContext, desc: Descriptor, content: Buffer, reference: string, signal?: AbortSignal): Promise<{ subjectProcessed: boolean }> {
  const res = await c.registry.request({
    method: 'PUT', path: path(c, reference), headers: { 'Content-Type': desc.mediaType }, body: content, scopes: [`repository:${c.name}:pull,push`], repository: c.name,
    expect: [201], notFound: 'NAME_UNKNOWN', signal,
  });
  await discard(res);
  const stored = tryParseDigest(header(res, 'docker-content-digest') ?? '');
  if (stored && stored.algorithm === desc.digest.algorithm && stored.value !== desc.digest.value) {
    throw new ProtocolError(`registry stored the manifest as ${stored.value}, not ${desc.digest.value}`, { code: 'DIGEST_INVALID', info: res.info, status: res.status });
  }
  return { subjectProcessed: header(res, 'oci-subject') !== undefined };
}

/** DELETE by digest (or by tag, where the registry supports it). */
export async function deleteManifest(c: BlobContext, reference: string, signal?: AbortSignal): Promise<void> {
  const res = await c.registry.request({
    method: 'DELETE', path: path(c, reference), scopes: [`repository:${c.name}:delete`], repository: c.name, expect: [202, 200, 204], notFound: 'MANIFEST_UNKNOWN', signal,
  });
  await discard(res);
}
