/**
 * `berth copy` against `skopeo copy` of one image (random +gzip layers, 1 GiB in the full bench)
 * from the server under test to a fresh instance of the same server, both tools in every round
 * (their order alternating). Reported: each tool's wall time and CPU per GiB, and the ratio of
 * the wall times (target: berth no slower than skopeo). `npm run bench:copy` runs the same copies
 * alone, with the user/system split and CPU profiles.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Registry } from '../../src/client/remote/registry.js';
import { seedCopyImage, timedCopy, type CopyTool, type TimedCopy } from '../copy-image.js';
import type { ServerName } from '../options.js';
import type { Context, Sample, Scenario } from '../scenario.js';
import { startRegistry, type RunningProcess } from '../servers.js';

const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const CLI = join(REPO_ROOT, 'dist', 'cli.js');
const REPO = 'bench/client-copy';
const LAYERS = 4;

const bytesOf = (ctx: Context) => ctx.sizes.clientCopyBytes;
const seeded = new Map<string, string>();

export const clientCopyScenario: Scenario = {
  name: 'client-copy',
  title: 'berth copy vs skopeo copy of one image between two registries',
  tools: ['/usr/bin/skopeo', '/usr/bin/time', '/usr/bin/unshare'],
  metrics: [
    { key: 'ratio', unit: '× skopeo wall time, berth copy', better: 'lower', digits: 2, target: { max: 1 } },
    { key: 'berth s', unit: 's wall, berth copy', better: 'lower', digits: 2 },
    { key: 'skopeo s', unit: 's wall, skopeo copy', better: 'lower', digits: 2 },
    { key: 'berth cpu s/GiB', unit: 's CPU/GiB, berth copy', better: 'lower', digits: 2 },
    { key: 'skopeo cpu s/GiB', unit: 's CPU/GiB, skopeo copy', better: 'lower', digits: 2 },
  ],
  async prepare(server: RunningProcess, ctx: Context): Promise<void> {
    ctx.log(`client-copy: seeding ${bytesOf(ctx) >> 20} MiB in ${LAYERS} layers on ${server.name}`);
    seeded.set(server.url, await seedCopyImage(`127.0.0.1:${server.port}`, REPO, bytesOf(ctx), LAYERS));
  },
  async run(server: RunningProcess, ctx: Context, rep: number): Promise<Sample> {
    const digest = seeded.get(server.url);
    if (!digest) throw new Error('client-copy: not prepared');
    const scratch = mkdtempSync(join(tmpdir(), 'berth-bench-client-copy-'));
    const order: CopyTool[] = rep % 2 === 0 ? ['berth', 'skopeo'] : ['skopeo', 'berth'];
    const times = new Map<CopyTool, TimedCopy>();
    try {
      for (const tool of order) {
        const dst = await startRegistry({ name: server.name as ServerName, dir: join(scratch, tool), logLevel: 'error', profileDir: undefined, repoRoot: REPO_ROOT, berthCli: CLI });
        try {
          times.set(tool, timedCopy(tool, `127.0.0.1:${server.port}/${REPO}:v1`, `127.0.0.1:${dst.port}/${REPO}:v1`, { cli: CLI, scratch }));
          const copied = await new Registry(`127.0.0.1:${dst.port}`, { credentials: null }).repository(REPO).resolve('v1');
          if (copied.digest.value !== digest) throw new Error(`${tool} made ${copied.digest.value}, not ${digest}`);
        } finally {
          await dst.stop();
        }
      }
    } finally {
      rmSync(scratch, { recursive: true, force: true });
    }
    const gib = bytesOf(ctx) / 2 ** 30;
    const b = times.get('berth')!;
    const s = times.get('skopeo')!;
    return {
      values: { ratio: b.wall / s.wall, 'berth s': b.wall, 'skopeo s': s.wall, 'berth cpu s/GiB': b.cpu / gib, 'skopeo cpu s/GiB': s.cpu / gib },
      errors: 0,
      notes: [],
    };
  },
};
