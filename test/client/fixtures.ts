// Content for the client tests, built in memory with the library's own descriptor type: blobs,
// images (OCI or Docker), indexes with platforms, artifacts with a subject; and the registries
// the tests run against (Berth in-process, Distribution 2.8.2 as a child process).
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { MediaTypes, descriptorJson, type Descriptor } from '../../src/oci/descriptor.js';
import { digestOf } from '../../src/oci/digest.js';
import type { Platform } from '../../src/oci/platform.js';
import type { Target } from '../../src/client/content/storage.js';
import { startRegistry as startBerth } from '../helpers/registry.js';
import { registryConfig, startRegistry as startChild } from '../clients/harness.js';

export interface Content {
  desc: Descriptor;
  data: Buffer;
}

export function content(data: Buffer | string, mediaType = 'application/vnd.oci.image.layer.v1.tar'): Content {
  const buf = Buffer.isBuffer(data) ? data : Buffer.from(data);
  return { desc: { mediaType, digest: digestOf(buf), size: buf.length }, data: buf };
}

export interface Image {
  config: Content;
  layers: Content[];
  manifest: Content;
  /** Everything, leaves first. */
  all: Content[];
}

export function image(o: { layerSizes?: number[]; architecture?: string; docker?: boolean; subject?: Descriptor; artifactType?: string; label?: string } = {}): Image {
  const docker = o.docker ?? false;
  const config = content(JSON.stringify({ architecture: o.architecture ?? 'amd64', os: 'linux', rootfs: { type: 'layers', diff_ids: [] }, config: { Labels: { l: o.label ?? randomBytes(4).toString('hex') } } }),
    docker ? 'application/vnd.docker.container.image.v1+json' : 'application/vnd.oci.image.config.v1+json');
  const layers = (o.layerSizes ?? [1024, 4096]).map((n) => content(randomBytes(n), docker ? 'application/vnd.docker.image.rootfs.diff.tar.gzip' : 'application/vnd.oci.image.layer.v1.tar+gzip'));
  const doc: Record<string, unknown> = {
    schemaVersion: 2,
    mediaType: docker ? MediaTypes.dockerManifest : MediaTypes.ociManifest,
    config: descriptorJson(config.desc),
    layers: layers.map((l) => descriptorJson(l.desc)),
  };
  if (o.artifactType) doc.artifactType = o.artifactType;
  if (o.subject) doc.subject = descriptorJson(o.subject);
  const manifest = content(JSON.stringify(doc), doc.mediaType as string);
  return { config, layers, manifest, all: [config, ...layers, manifest] };
}

/** An artifact (empty config, one blob) that refers to `subject`. */
export function artifact(subject: Descriptor, artifactType: string, payload = randomBytes(64)): Image {
  const config = content('{}', MediaTypes.ociEmpty);
  const blob = content(payload, 'application/octet-stream');
  const doc = { schemaVersion: 2, mediaType: MediaTypes.ociManifest, artifactType, config: descriptorJson(config.desc), layers: [descriptorJson(blob.desc)], subject: descriptorJson(subject), annotations: { 'org.example.kind': artifactType } };
  const manifest = content(JSON.stringify(doc), MediaTypes.ociManifest);
  return { config, layers: [blob], manifest, all: [config, blob, manifest] };
}

export function index(images: { image: Image; platform: Platform }[], docker = false): Content & { images: Image[] } {
  const mediaType = docker ? MediaTypes.dockerManifestList : MediaTypes.ociIndex;
  const doc = { schemaVersion: 2, mediaType, manifests: images.map(({ image: i, platform }) => ({ ...descriptorJson(i.manifest.desc), platform })) };
  return { ...content(JSON.stringify(doc), mediaType), images: images.map((i) => i.image) };
}

/** Pushes content leaves first. */
export async function pushAll(target: Target, items: Content[]): Promise<void> {
  for (const c of items) await target.push(c.desc, c.data);
}

export interface TestRegistry {
  kind: 'berth' | 'distribution';
  host: string;
  url: string;
  stop(): Promise<void>;
}

/** Berth in-process or Distribution 2.8.2 as a child, on a free loopback port, with deletes on. */
export async function startTestRegistry(kind: 'berth' | 'distribution', extraYaml = ''): Promise<TestRegistry> {
  if (kind === 'berth') {
    const { defaultYaml } = await import('../helpers/registry.js');
    const reg = await startBerth({ yaml: defaultYaml({ extraYaml }) });
    return { kind, host: new URL(reg.url).host, url: reg.url, stop: () => reg.stop() };
  }
  const dir = mkdtempSync(path.join(os.tmpdir(), 'berth-client-dist-'));
  const root = path.join(dir, 'root');
  const reg = await startChild({ kind: 'distribution', root, stateDir: dir, config: (port) => registryConfig({ root, port, extra: extraYaml }) });
  return {
    kind,
    host: reg.host,
    url: reg.url,
    async stop() {
      await reg.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

export function uniqueRepo(prefix: string): string {
  return `${prefix}/${randomBytes(4).toString('hex')}`;
}
