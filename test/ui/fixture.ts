/** Images the UI tests browse: a two-platform index sharing a base layer, an SBOM, signatures, an attestation. */
import type { Registry } from '../helpers/registry.js';
import { blob, emptyConfig, ociIndex, ociManifest, random, MT, type Blob, type Manifest } from '../helpers/content.js';
import { pushBlobs, pushManifest } from '../helpers/push.js';

export interface Platform {
  architecture: string;
  manifest: Manifest;
  config: Blob;
  /** Manifest + config + layers. */
  size: number;
}

export interface MultiArch {
  index: Manifest;
  base: Blob;
  platforms: Platform[];
  /** Index bytes + each platform's manifest, config and own layer, the shared base layer once. */
  size: number;
}

export const CREATED = { amd64: '2024-03-01T10:00:00Z', arm64: '2024-03-02T11:00:00Z' } as const;

function imageConfig(architecture: string, created: string): Blob {
  return blob(
    JSON.stringify({
      created,
      author: 'ui-test',
      architecture,
      os: 'linux',
      config: { Env: ['PATH=/usr/bin', `ARCH=${architecture}`], Entrypoint: ['/bin/app'], Cmd: ['--serve'], WorkingDir: '/srv', User: 'app', Labels: { 'org.opencontainers.image.title': 'demo' }, ExposedPorts: { '8080/tcp': {} } },
      rootfs: { type: 'layers', diff_ids: [] },
      history: [
        { created, created_by: 'ADD base.tar /' },
        { created, created_by: 'ENV ARCH', empty_layer: true },
        { created, created_by: `COPY app-${architecture} /bin/app` },
      ],
    }),
    MT.ociConfig,
  );
}

/** Pushes a linux/amd64 + linux/arm64 index to `repo` as `tag`, its platforms sharing one base layer. */
export async function pushMultiArch(reg: Registry, repo: string, tag: string, o: { baseSize?: number; layerSizes?: [number, number] } = {}): Promise<MultiArch> {
  const base = blob(random(o.baseSize ?? 3000));
  const sizes = o.layerSizes ?? [1000, 2000];
  await pushBlobs(reg, repo, [base]);
  const platforms: Platform[] = [];
  for (const [i, architecture] of (['amd64', 'arm64'] as const).entries()) {
    const config = imageConfig(architecture, CREATED[architecture]);
    const own = blob(random(sizes[i]!));
    await pushBlobs(reg, repo, [config, own]);
    const manifest = ociManifest({ config: config.descriptor, layers: [base.descriptor, own.descriptor] });
    await pushManifest(reg, repo, manifest.digest, manifest);
    platforms.push({ architecture, manifest, config, size: manifest.bytes.length + config.data.length + base.data.length + own.data.length });
  }
  const index = ociIndex({ manifests: platforms.map((p) => ({ ...p.manifest.descriptor, platform: { architecture: p.architecture, os: 'linux' } })) });
  await pushManifest(reg, repo, tag, index);
  const size = index.bytes.length + platforms.reduce((n, p) => n + p.size - base.data.length, 0) + base.data.length;
  return { index, base, platforms, size };
}

/** A linux/amd64 image whose config and history say `created` (a reproducible build writes the Unix epoch). */
export async function pushImageCreated(reg: Registry, repo: string, tag: string, created: string): Promise<Manifest> {
  const config = imageConfig('amd64', created);
  const layers = [blob(random(500)), blob(random(700))];
  await pushBlobs(reg, repo, [config, ...layers]);
  const manifest = ociManifest({ config: config.descriptor, layers: layers.map((l) => l.descriptor) });
  await pushManifest(reg, repo, tag, manifest);
  return manifest;
}

export const ARTIFACT = {
  sbom: 'application/spdx+json',
  signature: 'application/vnd.dev.cosign.artifact.sig.v1+json',
  attestation: 'application/vnd.in-toto+json',
} as const;

/** An artifact manifest of `artifactType` whose subject is `subject`. */
export async function pushReferrer(reg: Registry, repo: string, subject: Manifest, artifactType: string, created = '2024-04-01T00:00:00Z'): Promise<Manifest> {
  const payload = blob(random(64), 'application/octet-stream');
  await pushBlobs(reg, repo, [emptyConfig, payload]);
  const m = ociManifest({ artifactType, config: emptyConfig.descriptor, layers: [payload.descriptor], subject: subject.descriptor, annotations: { 'org.opencontainers.image.created': created } });
  await pushManifest(reg, repo, m.digest, m);
  return m;
}
