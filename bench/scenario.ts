/**
 * What a scenario is: untimed preparation per server, one timed repetition per call, and an
 * optional physical limit measured on nginx. Shared helpers for seeding small images.
 */
import { execFileSync } from 'node:child_process';
import { Agent } from 'node:http';
import type { DataFile } from './data.js';
import type { ServerName, Sizes, StorageMode } from './options.js';
import type { RunningProcess } from './servers.js';
import type { S3Service } from './s3.js';
import { imageManifest, pushMonolithic, putManifest, sha256, type Descriptor } from './client.js';

export interface Metric {
  key: string;
  unit: string;
  better: 'higher' | 'lower';
  /** Decimal places shown in the table. */
  digits: number;
  /** Target for Berth: a ratio Berth/Distribution (`ratio`) or an absolute value (`max`). */
  target?: { ratio?: number; max?: number; min?: number };
  /** Left out of the table when no server has a value for it (a figure only some runs measure). */
  onlyWhenMeasured?: boolean;
  /** Berth with berth.workers: auto, where it differs from `target`. */
  autoTarget?: { ratio?: number; max?: number; min?: number };
}

export interface Sample {
  values: Record<string, number>;
  errors: number;
  notes: string[];
}

export interface Context {
  sizes: Sizes;
  /** Generated random file, or undefined when no selected scenario needs it. */
  data: DataFile | undefined;
  nginx: RunningProcess | undefined;
  /** CPU list for taskset around wrk/ab. */
  pin: string | undefined;
  log(message: string): void;
  storage: StorageMode;
  /** The S3 server with --storage s3. */
  s3: S3Service | undefined;
  /**
   * Start another instance of a registry on `bucket` (--storage s3), for scenarios that need a
   * server fresh from start; the caller stops it. Stopped by the bench too if it is interrupted.
   */
  startServer?(name: ServerName, bucket: string, label: string): Promise<RunningProcess>;
}

export interface Scenario {
  name: string;
  title: string;
  metrics: Metric[];
  /** Executables needed (absolute paths); missing ones make the scenario fail. */
  tools?: string[];
  needsData?: boolean;
  prepare?(server: RunningProcess, ctx: Context): Promise<void>;
  run(server: RunningProcess, ctx: Context, rep: number): Promise<Sample>;
  /** The same measurement on nginx serving static files, when that is the physical limit. */
  limit?(nginx: RunningProcess, ctx: Context): Promise<Sample>;
}

/** Flush dirty pages so one server's writes are not paid for by the next one's timed run. */
export function syncDisks(): void {
  execFileSync('sync');
}

export interface SeededImage {
  repo: string;
  manifest: Buffer;
  manifestDigest: string;
  config: Descriptor;
  layer: Descriptor;
}

const seeded = new Map<string, SeededImage>();

/** A small image (config + one 4 KiB layer + manifest tagged `latest`) in `repo`, pushed once per server. */
export async function seedImage(server: RunningProcess, repo: string, agent?: Agent): Promise<SeededImage> {
  const key = `${server.url} ${repo}`;
  const done = seeded.get(key);
  if (done) return done;
  const configBody = Buffer.from(
    JSON.stringify({ architecture: 'amd64', os: 'linux', rootfs: { type: 'layers', diff_ids: [] }, bench: repo }),
  );
  const layerBody = Buffer.alloc(4096, `${repo} layer `);
  const config: Descriptor = {
    mediaType: 'application/vnd.oci.image.config.v1+json',
    digest: sha256(configBody),
    size: configBody.length,
  };
  const layer: Descriptor = {
    mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip',
    digest: sha256(layerBody),
    size: layerBody.length,
  };
  await pushMonolithic(server.url, repo, config.digest, { kind: 'buffers', parts: [configBody] }, agent);
  await pushMonolithic(server.url, repo, layer.digest, { kind: 'buffers', parts: [layerBody] }, agent);
  const manifest = imageManifest(config, [layer]);
  await putManifest(server.url, repo, 'latest', manifest, agent);
  const image = { repo, manifest, manifestDigest: sha256(manifest), config, layer };
  seeded.set(key, image);
  return image;
}

export function median(values: number[]): number {
  const v = values.filter((x) => Number.isFinite(x)).sort((a, b) => a - b);
  if (v.length === 0) return NaN;
  const mid = v.length >> 1;
  return v.length % 2 ? v[mid]! : (v[mid - 1]! + v[mid]!) / 2;
}

export function errorSample(err: unknown): Sample {
  return { values: {}, errors: 1, notes: [err instanceof Error ? err.message.split('\n')[0]! : String(err)] };
}
