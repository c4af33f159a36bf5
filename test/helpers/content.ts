/** Random content, digests, and manifest builders for every manifest kind the suite pushes. */
import { createHash, randomBytes } from 'node:crypto';

export const MT = {
  ociManifest: 'application/vnd.oci.image.manifest.v1+json',
  ociIndex: 'application/vnd.oci.image.index.v1+json',
  ociConfig: 'application/vnd.oci.image.config.v1+json',
  ociLayer: 'application/vnd.oci.image.layer.v1.tar+gzip',
  ociLayerNondist: 'application/vnd.oci.image.layer.nondistributable.v1.tar+gzip',
  ociEmpty: 'application/vnd.oci.empty.v1+json',
  dockerManifest: 'application/vnd.docker.distribution.manifest.v2+json',
  dockerList: 'application/vnd.docker.distribution.manifest.list.v2+json',
  dockerConfig: 'application/vnd.docker.container.image.v1+json',
  dockerLayer: 'application/vnd.docker.image.rootfs.diff.tar.gzip',
  dockerForeignLayer: 'application/vnd.docker.image.rootfs.foreign.diff.tar.gzip',
  dockerSchema1Signed: 'application/vnd.docker.distribution.manifest.v1+prettyjws',
} as const;

export type Algorithm = 'sha256' | 'sha512';

export function digest(data: Buffer | string, algorithm: Algorithm = 'sha256'): string {
  return `${algorithm}:${createHash(algorithm).update(data).digest('hex')}`;
}

export function random(size: number): Buffer {
  return randomBytes(size);
}

/** A unique, valid repository name for one test. */
let counter = 0;
export function repoName(prefix = 'repo'): string {
  counter += 1;
  return `${prefix}-${process.pid}-${counter}-${randomBytes(3).toString('hex')}`.toLowerCase();
}

export interface Descriptor {
  mediaType: string;
  digest: string;
  size: number;
  [k: string]: unknown;
}

export interface Blob { data: Buffer; digest: string; descriptor: Descriptor }

export function blob(data: Buffer | string, mediaType: string = MT.ociLayer, algorithm: Algorithm = 'sha256'): Blob {
  const buf = Buffer.isBuffer(data) ? data : Buffer.from(data);
  const d = digest(buf, algorithm);
  return { data: buf, digest: d, descriptor: { mediaType, digest: d, size: buf.length } };
}

/** The OCI empty JSON blob `{}` used as config of artifacts. */
export const emptyConfig: Blob = blob('{}', MT.ociEmpty);

export interface Manifest { bytes: Buffer; mediaType: string; digest: string; descriptor: Descriptor; json: any }

export function manifest(doc: unknown, mediaType: string, opts: { indent?: number | string; algorithm?: Algorithm; raw?: string } = {}): Manifest {
  const text = opts.raw ?? JSON.stringify(doc, null, opts.indent);
  const bytes = Buffer.from(text);
  const d = digest(bytes, opts.algorithm);
  return { bytes, mediaType, digest: d, descriptor: { mediaType, digest: d, size: bytes.length }, json: doc };
}

export function imageConfig(): Blob {
  return blob(JSON.stringify({ architecture: 'amd64', os: 'linux', rootfs: { type: 'layers', diff_ids: [] }, created: new Date(0).toISOString(), nonce: randomBytes(8).toString('hex') }), MT.ociConfig);
}

export function ociManifest(o: { config: Descriptor; layers: Descriptor[]; subject?: Descriptor; artifactType?: string; annotations?: Record<string, string>; extra?: Record<string, unknown> }, opts?: { indent?: number }): Manifest {
  const doc: Record<string, unknown> = { schemaVersion: 2, mediaType: MT.ociManifest };
  if (o.artifactType) doc.artifactType = o.artifactType;
  doc.config = o.config;
  doc.layers = o.layers;
  if (o.subject) doc.subject = o.subject;
  if (o.annotations) doc.annotations = o.annotations;
  Object.assign(doc, o.extra ?? {});
  return manifest(doc, MT.ociManifest, opts);
}

export function ociIndex(o: { manifests: Descriptor[]; subject?: Descriptor; artifactType?: string; annotations?: Record<string, string> }): Manifest {
  const doc: Record<string, unknown> = { schemaVersion: 2, mediaType: MT.ociIndex };
  if (o.artifactType) doc.artifactType = o.artifactType;
  doc.manifests = o.manifests;
  if (o.subject) doc.subject = o.subject;
  if (o.annotations) doc.annotations = o.annotations;
  return manifest(doc, MT.ociIndex);
}

export function dockerManifest(o: { config: Descriptor; layers: Descriptor[] }): Manifest {
  return manifest({ schemaVersion: 2, mediaType: MT.dockerManifest, config: o.config, layers: o.layers }, MT.dockerManifest, { indent: 3 });
}

export function dockerList(manifests: Descriptor[]): Manifest {
  const doc = {
    schemaVersion: 2,
    mediaType: MT.dockerList,
    manifests: manifests.map((m, i) => ({ ...m, platform: { architecture: i % 2 ? 'arm64' : 'amd64', os: 'linux' } })),
  };
  return manifest(doc, MT.dockerList, { indent: 3 });
}

export function withPlatform(d: Descriptor, architecture: string): Descriptor {
  return { ...d, platform: { architecture, os: 'linux' } };
}
