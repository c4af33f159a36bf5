// Builds test images as OCI layouts with umoci (init, new, unpack --rootless, add files, repack),
// and multi-platform indexes over them. Layer content is random, so every run pushes new blobs.
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { type Descriptor, type Workspace, layoutBlob, layoutIndex, layoutRef, sha256 } from './harness.js';

export interface ImageSpec {
  /** One entry per layer: file path inside the rootfs → content. */
  layers: Record<string, Buffer | string>[];
  architecture?: string;
}

export interface BuiltImage {
  layout: string;
  tag: string;
  /** Digest of the image manifest. */
  digest: string;
  manifest: Descriptor;
}

/** Builds (or adds to) an OCI layout at `layout` with an image tagged `tag`. */
export async function buildImage(ws: Workspace, layout: string, tag: string, spec: ImageSpec): Promise<BuiltImage> {
  if (!existsSync(join(layout, 'oci-layout'))) await ws.tool('umoci', ['init', '--layout', layout]);
  const ref = `${layout}:${tag}`;
  await ws.tool('umoci', ['new', '--image', ref]);
  const bundle = `${layout}.bundle-${tag}`;
  for (const files of spec.layers) {
    rmSync(bundle, { recursive: true, force: true });
    await ws.tool('umoci', ['unpack', '--rootless', '--image', ref, bundle]);
    for (const [path, content] of Object.entries(files)) {
      const full = join(bundle, 'rootfs', path);
      mkdirSync(dirname(full), { recursive: true });
      writeFileSync(full, content);
    }
    await ws.tool('umoci', ['repack', '--image', ref, bundle]);
  }
  rmSync(bundle, { recursive: true, force: true });
  await ws.tool('umoci', [
    'config', '--image', ref,
    '--architecture', spec.architecture ?? 'amd64', '--os', 'linux',
    '--config.cmd', '/bin/hello', '--config.label', `berth.test.tag=${tag}`,
  ]);
  const manifest = layoutRef(layout, tag);
  return { layout, tag, digest: manifest.digest, manifest };
}

/** A few MiB in three layers, each with a file whose content the tests can check. */
export function multiLayerSpec(architecture = 'amd64'): ImageSpec {
  return {
    architecture,
    layers: [
      { 'data/one.bin': randomBytes(1024 * 1024), 'etc/hello.txt': `hello from ${architecture}\n` },
      { 'data/two.bin': randomBytes(2 * 1024 * 1024) },
      { 'data/three.bin': randomBytes(512 * 1024), 'etc/hello.txt': `hello again from ${architecture}\n` },
    ],
  };
}

/** Writes an OCI image index over the given images into the layout and tags it `tag`. */
export function addIndex(layout: string, tag: string, images: { image: BuiltImage; architecture: string }[]): Descriptor {
  const index = {
    schemaVersion: 2,
    mediaType: 'application/vnd.oci.image.index.v1+json',
    manifests: images.map(({ image, architecture }) => ({
      mediaType: image.manifest.mediaType,
      digest: image.digest,
      size: image.manifest.size,
      platform: { architecture, os: 'linux' },
    })),
  };
  const bytes = Buffer.from(JSON.stringify(index));
  const digest = sha256(bytes);
  writeFileSync(join(layout, 'blobs', 'sha256', digest.slice('sha256:'.length)), bytes);
  const top = layoutIndex(layout);
  const desc: Descriptor = {
    mediaType: 'application/vnd.oci.image.index.v1+json',
    digest,
    size: bytes.length,
    annotations: { 'org.opencontainers.image.ref.name': tag },
  };
  top.manifests = [...top.manifests.filter((m) => m.annotations?.['org.opencontainers.image.ref.name'] !== tag), desc];
  writeFileSync(join(layout, 'index.json'), JSON.stringify({ schemaVersion: 2, ...top }));
  layoutBlob(layout, digest); // readable back
  return desc;
}
