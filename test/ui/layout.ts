/**
 * Many repositories made cheaply: the layout's files written straight into a filesystem root
 * before the registry starts (as Distribution would have left them), instead of 10,000 pushes.
 * Every repository gets a tag `latest` naming one small image whose blobs are written once.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { blob, imageConfig, ociManifest } from '../helpers/content.js';

const V2 = 'docker/registry/v2';

async function put(file: string, data: Buffer | string): Promise<void> {
  await mkdir(path.dirname(file), { recursive: true });
  await writeFile(file, data);
}

/** `org-<i / 100>/service-<i>` for i < count, zero-padded so they sort as numbered. */
export function repositoryName(i: number): string {
  return `org-${String(Math.floor(i / 100)).padStart(3, '0')}/service-${String(i).padStart(5, '0')}`;
}

export async function writeRepositories(root: string, count: number): Promise<{ names: string[]; digest: string }> {
  const config = imageConfig();
  const manifest = ociManifest({ config: config.descriptor, layers: [] });
  for (const b of [config, blob(manifest.bytes)]) {
    const hex = b.digest.slice('sha256:'.length);
    await put(path.join(root, V2, 'blobs/sha256', hex.slice(0, 2), hex, 'data'), b.data);
  }
  const hex = manifest.digest.slice('sha256:'.length);
  const names = Array.from({ length: count }, (_, i) => repositoryName(i));
  let next = 0;
  await Promise.all(
    Array.from({ length: 32 }, async () => {
      while (next < names.length) {
        const repo = path.join(root, V2, 'repositories', names[next++]!);
        await put(path.join(repo, '_manifests/revisions/sha256', hex, 'link'), manifest.digest);
        await put(path.join(repo, '_manifests/tags/latest/index/sha256', hex, 'link'), manifest.digest);
        await put(path.join(repo, '_manifests/tags/latest/current/link'), manifest.digest);
      }
    }),
  );
  return { names, digest: manifest.digest };
}
