/**
 * An artifact (image-spec 1.1 "artifacts guidance"): an image manifest with an `artifactType`,
 * the empty config (`{}` as application/vnd.oci.empty.v1+json) and one layer per file, each
 * titled with its file name (`org.opencontainers.image.title`, as oras names them). With a
 * `subject` it is a referrer of that manifest: `berth attach` pushes signatures, SBOMs and
 * other artifacts this way, as `oras attach` does. Files are hashed first and then streamed, so
 * none is held in memory.
 */
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import { MediaTypes, descriptorJson, type Descriptor } from '../oci/descriptor.js';
import { Digester, digestOf } from '../oci/digest.js';
import type { Target } from './content/storage.js';

export const ANNOTATION_TITLE = 'org.opencontainers.image.title';
export const ANNOTATION_CREATED = 'org.opencontainers.image.created';

const EMPTY = Buffer.from('{}');

export interface ArtifactFile {
  /** A file to read. */
  path: string;
  /** Default application/octet-stream. */
  mediaType?: string;
}

export interface ArtifactOptions {
  artifactType: string;
  files: ArtifactFile[];
  subject?: Descriptor;
  /** Manifest annotations; `org.opencontainers.image.created` is set to now unless given. */
  annotations?: Record<string, string>;
  /** Called as each file is pushed (for progress). */
  onFile?(file: ArtifactFile, desc: Descriptor, status: 'pushed' | 'exists'): void;
  signal?: AbortSignal;
}

/** A file's descriptor (read once to hash it), titled with its base name. */
export async function describeFile(file: ArtifactFile, signal?: AbortSignal): Promise<Descriptor> {
  const size = (await stat(file.path)).size;
  const digester = new Digester('sha256');
  await pipeline(createReadStream(file.path), async (source: AsyncIterable<Buffer>) => {
    for await (const chunk of source) digester.update(chunk);
  }, { signal });
  if (digester.size !== size) throw new Error(`${file.path} changed while it was read`);
  return {
    mediaType: file.mediaType ?? 'application/octet-stream',
    digest: digester.digest(),
    size,
    annotations: { [ANNOTATION_TITLE]: path.basename(file.path) },
  };
}

/** Pushes the files, the empty config and the manifest (by digest); returns the manifest's descriptor. */
export async function pushArtifact(target: Target, o: ArtifactOptions): Promise<Descriptor> {
  if (!o.artifactType) throw new TypeError('an artifact needs an artifactType');
  const signal = o.signal;
  const config: Descriptor = { mediaType: MediaTypes.ociEmpty, digest: digestOf(EMPTY), size: EMPTY.length };
  if (!(await target.exists(config, { signal }))) await target.push(config, EMPTY, { signal });
  const layers: Descriptor[] = [];
  for (const file of o.files) {
    const desc = await describeFile(file, signal);
    const have = await target.exists(desc, { signal });
    if (!have) await target.push(desc, createReadStream(file.path, { highWaterMark: 1 << 20 }), { signal });
    o.onFile?.(file, desc, have ? 'exists' : 'pushed');
    layers.push(desc);
  }
  // The spec: an artifact without layers carries the empty descriptor as its one layer.
  if (layers.length === 0) layers.push(config);
  const doc: Record<string, unknown> = {
    schemaVersion: 2,
    mediaType: MediaTypes.ociManifest,
    artifactType: o.artifactType,
    config: descriptorJson(config),
    layers: layers.map(descriptorJson),
  };
  if (o.subject) doc.subject = descriptorJson({ mediaType: o.subject.mediaType, digest: o.subject.digest, size: o.subject.size });
  doc.annotations = { [ANNOTATION_CREATED]: new Date().toISOString().replace(/\.\d{3}Z$/, 'Z'), ...o.annotations };
  const bytes = Buffer.from(JSON.stringify(doc));
  const desc: Descriptor = { mediaType: MediaTypes.ociManifest, digest: digestOf(bytes), size: bytes.length, artifactType: o.artifactType };
  await target.push(desc, bytes, { signal });
  return desc;
}
