/**
 * A Berth server in-process on a fresh filesystem root (the GC tests need its Registry, which
 * test/helpers/registry.ts does not expose), and a populated root whose expected survivors are
 * known exactly: multi-arch indexes, a Docker manifest list, referrers, layers shared across
 * repositories, untagged manifests, a deleted manifest, an orphan blob, and images whose
 * non-distributable layer was never pushed.
 */
import { mkdtemp, rm, readdir, utimes } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { pino } from 'pino';
import { parseConfig } from '../../src/config/load.js';
import { startServer, type RunningServer } from '../../src/api/server.js';
import type { Clock } from '../../src/clock.js';
import { request } from '../helpers/http.js';
import type { Registry as TestRegistry } from '../helpers/registry.js';
import { defaultYaml } from '../helpers/registry.js';
import { blob, dockerList, dockerManifest, emptyConfig, imageConfig, ociIndex, ociManifest, random, withPlatform, MT, type Blob, type Manifest } from '../helpers/content.js';
import { pushBlob, pushBlobs, pushManifest } from '../helpers/push.js';

export interface Served {
  reg: TestRegistry;
  server: RunningServer;
  base: string;
  root: string;
  stop(opts?: { keep?: boolean }): Promise<void>;
}

/**
 * Starts Berth on `base` (a fresh temp dir unless given); `extraYaml` adds top-level keys, or
 * `yaml` replaces the whole configuration ({{root}} and {{addr}} filled in); `clock` drives its
 * background jobs.
 */
export async function serve(o: { base?: string; extraYaml?: string; yaml?: string; clock?: Clock } = {}): Promise<Served> {
  const base = o.base ?? (await mkdtemp(path.join(os.tmpdir(), 'berth-gc-')));
  const root = path.join(base, 'storage');
  const yaml = (o.yaml ?? defaultYaml({ extraYaml: o.extraYaml })).replaceAll('{{root}}', root).replaceAll('{{addr}}', '127.0.0.1:0');
  const { config } = parseConfig(yaml, {});
  const server = await startServer(config, pino({ level: 'silent' }), o.clock ? { clock: o.clock } : {});
  const url = server.url.replace(/\/$/, '');
  const reg = {
    target: 'berth',
    url,
    base,
    root,
    req: (method: string, p: string, opts?: Parameters<typeof request>[3]) => request(url, method, p, opts),
    stop: async () => undefined,
  } as TestRegistry;
  return {
    reg,
    server,
    base,
    root,
    async stop(opts = {}) {
      await server.close();
      if (!opts.keep && !o.base) await rm(base, { recursive: true, force: true });
    },
  };
}

/** Every blob digest under the root's blobs/ directory. */
export async function blobsOnDisk(root: string): Promise<Set<string>> {
  const out = new Set<string>();
  const blobs = path.join(root, 'docker/registry/v2/blobs');
  for (const alg of await readdir(blobs).catch(() => [] as string[])) {
    for (const two of await readdir(path.join(blobs, alg))) {
      for (const hex of await readdir(path.join(blobs, alg, two))) out.add(`${alg}:${hex}`);
    }
  }
  return out;
}

/** Sets the modification time of every file under dir to `ageMs` ago (content written "long ago"). */
export async function age(dir: string, ageMs: number): Promise<void> {
  const t = new Date(Date.now() - ageMs);
  const visit = async (p: string): Promise<void> => {
    const entries = await readdir(p, { withFileTypes: true }).catch(() => []);
    for (const e of entries) {
      const full = path.join(p, e.name);
      if (e.isDirectory()) await visit(full);
      else await utimes(full, t, t);
    }
  };
  await visit(dir);
}

export interface Populated {
  /** Every blob (content and manifests) pushed. */
  all: Set<string>;
  /** Blobs GC deletes in every mode. */
  garbage: Set<string>;
  /** Additional blobs deleted with --delete-untagged. */
  untaggedGarbage: Set<string>;
  /** Manifests ("repo@digest") deleted with --delete-untagged. */
  untaggedManifests: Set<string>;
  /** Tags that must stay pullable, as repo:tag → manifest digest. */
  tags: Map<string, string>;
  /** Untagged manifests that must stay with --delete-untagged (children of tagged indexes, referrers of live subjects). */
  keptUntagged: Set<string>;
}

function image(layers: Blob[], cfg = imageConfig()): { config: Blob; layers: Blob[]; manifest: Manifest } {
  return { config: cfg, layers, manifest: ociManifest({ config: cfg.descriptor, layers: layers.map((l) => l.descriptor) }) };
}

/**
 * Pushes the fixture through the HTTP API. Digests are recorded by role so the tests can state
 * exactly what must remain.
 */
export async function populate(reg: TestRegistry): Promise<Populated> {
  const all = new Set<string>();
  const garbage = new Set<string>();
  const untaggedGarbage = new Set<string>();
  const untaggedManifests = new Set<string>();
  const keptUntagged = new Set<string>();
  const tags = new Map<string, string>();
  const pushImage = async (repo: string, img: ReturnType<typeof image>, ref?: string) => {
    await pushBlobs(reg, repo, [img.config, ...img.layers]);
    await pushManifest(reg, repo, ref ?? img.manifest.digest, img.manifest);
    for (const d of [img.config.digest, ...img.layers.map((l) => l.digest), img.manifest.digest]) all.add(d);
  };
  const owned = (img: ReturnType<typeof image>) => [img.config.digest, ...img.layers.map((l) => l.digest), img.manifest.digest];

  // A layer shared by app (amd64 child) and lib.
  const shared = blob(random(300));

  // app: a tagged multi-arch OCI index with two untagged children.
  const amd64 = image([shared, blob(random(200))]);
  const arm64 = image([blob(random(210))]);
  await pushImage('app', amd64);
  await pushImage('app', arm64);
  const index = ociIndex({ manifests: [withPlatform(amd64.manifest.descriptor, 'amd64'), withPlatform(arm64.manifest.descriptor, 'arm64')] });
  await pushManifest(reg, 'app', 'v1', index);
  all.add(index.digest);
  tags.set('app:v1', index.digest);
  keptUntagged.add(`app@${amd64.manifest.digest}`).add(`app@${arm64.manifest.digest}`);

  // app: a signature (referrer) of the tagged index, untagged; its subject is alive.
  const sigLayer = blob(random(64), 'application/vnd.example.signature');
  await pushBlobs(reg, 'app', [emptyConfig, sigLayer]);
  const signature = ociManifest({ config: emptyConfig.descriptor, layers: [sigLayer.descriptor], subject: index.descriptor, artifactType: 'application/vnd.example.signature' });
  await pushManifest(reg, 'app', signature.digest, signature);
  for (const d of [emptyConfig.digest, sigLayer.digest, signature.digest]) all.add(d);
  keptUntagged.add(`app@${signature.digest}`);
  // …and an SBOM attached to the signature (a referrer of a referrer).
  const sbomLayer = blob(random(80), 'application/vnd.example.sbom');
  await pushBlobs(reg, 'app', [sbomLayer]);
  const sbom = ociManifest({ config: emptyConfig.descriptor, layers: [sbomLayer.descriptor], subject: signature.descriptor, artifactType: 'application/vnd.example.sbom' });
  await pushManifest(reg, 'app', sbom.digest, sbom);
  all.add(sbomLayer.digest).add(sbom.digest);
  keptUntagged.add(`app@${sbom.digest}`);

  // app: "latest" moved from an old image to a new one; the old one is untagged now.
  const old = image([blob(random(220))]);
  await pushImage('app', old, 'latest');
  const current = image([shared, blob(random(230))]);
  await pushImage('app', current, 'latest');
  tags.set('app:latest', current.manifest.digest);
  for (const d of owned(old)) untaggedGarbage.add(d);
  untaggedManifests.add(`app@${old.manifest.digest}`);

  // app: an untagged image with a referrer of its own: both go with -m (the subject is not alive).
  const lonely = image([blob(random(240))]);
  await pushImage('app', lonely);
  const lonelySigLayer = blob(random(64), 'application/vnd.example.signature');
  await pushBlobs(reg, 'app', [lonelySigLayer]);
  const lonelySig = ociManifest({ config: emptyConfig.descriptor, layers: [lonelySigLayer.descriptor], subject: lonely.manifest.descriptor, artifactType: 'application/vnd.example.signature' });
  await pushManifest(reg, 'app', lonelySig.digest, lonelySig);
  all.add(lonelySigLayer.digest).add(lonelySig.digest);
  for (const d of [...owned(lonely), lonelySigLayer.digest, lonelySig.digest]) untaggedGarbage.add(d);
  untaggedManifests.add(`app@${lonely.manifest.digest}`).add(`app@${lonelySig.digest}`);

  // app: an untagged index and its (untagged) child: both go with -m.
  const child = image([blob(random(250))]);
  await pushImage('app', child);
  const orphanIndex = ociIndex({ manifests: [withPlatform(child.manifest.descriptor, 'amd64')] });
  await pushManifest(reg, 'app', orphanIndex.digest, orphanIndex);
  all.add(orphanIndex.digest);
  for (const d of [...owned(child), orphanIndex.digest]) untaggedGarbage.add(d);
  untaggedManifests.add(`app@${child.manifest.digest}`).add(`app@${orphanIndex.digest}`);

  // lib: a tagged image sharing the layer, and an orphan blob nobody references.
  const libImg = image([shared, blob(random(260))]);
  await pushImage('lib', libImg, '1.0');
  tags.set('lib:1.0', libImg.manifest.digest);
  const orphan = blob(random(270));
  await pushBlob(reg, 'lib', orphan.data, orphan.digest);
  all.add(orphan.digest);
  garbage.add(orphan.digest);

  // dock: Docker schema 2 images under a tagged manifest list.
  const dcfg1 = blob(JSON.stringify({ architecture: 'amd64', os: 'linux', n: random(4).toString('hex') }), MT.dockerConfig);
  const dcfg2 = blob(JSON.stringify({ architecture: 'arm64', os: 'linux', n: random(4).toString('hex') }), MT.dockerConfig);
  const dl1 = blob(random(190), MT.dockerLayer);
  const dl2 = blob(random(195), MT.dockerLayer);
  await pushBlobs(reg, 'team/dock', [dcfg1, dcfg2, dl1, dl2]);
  const dm1 = dockerManifest({ config: dcfg1.descriptor, layers: [dl1.descriptor] });
  const dm2 = dockerManifest({ config: dcfg2.descriptor, layers: [dl2.descriptor] });
  await pushManifest(reg, 'team/dock', dm1.digest, dm1);
  await pushManifest(reg, 'team/dock', dm2.digest, dm2);
  const list = dockerList([dm1.descriptor, dm2.descriptor]);
  await pushManifest(reg, 'team/dock', 'stable', list);
  for (const d of [dcfg1.digest, dcfg2.digest, dl1.digest, dl2.digest, dm1.digest, dm2.digest, list.digest]) all.add(d);
  tags.set('team/dock:stable', list.digest);
  keptUntagged.add(`team/dock@${dm1.digest}`).add(`team/dock@${dm2.digest}`);

  // gone: an image whose manifest was deleted through the API: its unique blobs are garbage.
  const goneImg = image([shared, blob(random(280))]);
  await pushImage('gone', goneImg, 'x');
  const del = await reg.req('DELETE', `/v2/gone/manifests/${goneImg.manifest.digest}`);
  if (del.status !== 202) throw new Error(`DELETE manifest: ${del.status}`);
  for (const d of owned(goneImg)) if (d !== shared.digest) garbage.add(d);

  // win: images with a non-distributable layer whose blob was never pushed (clients fetch it from
  // its URL), one tagged, one untagged: GC marks the absent blob and never trips over it.
  const foreignLayer = () => ({ ...blob(random(90)).descriptor, mediaType: MT.ociLayerNondist, urls: ['https://foreign.example.com/base.tar.gz'] });
  for (const tag of ['v1', undefined]) {
    const cfg = imageConfig();
    const own = blob(random(100));
    await pushBlobs(reg, 'win', [cfg, own]);
    const m = ociManifest({ config: cfg.descriptor, layers: [foreignLayer(), own.descriptor] });
    await pushManifest(reg, 'win', tag ?? m.digest, m);
    for (const d of [cfg.digest, own.digest, m.digest]) all.add(d);
    if (tag) tags.set(`win:${tag}`, m.digest);
    else {
      for (const d of [cfg.digest, own.digest, m.digest]) untaggedGarbage.add(d);
      untaggedManifests.add(`win@${m.digest}`);
    }
  }

  return { all, garbage, untaggedGarbage, untaggedManifests, tags, keptUntagged };
}
