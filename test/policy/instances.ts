// Berth in this process with a clock the test moves (records, retention), as the `Registry`
// handle the test helpers push through; several may share one storage root or bucket.
import assert from 'node:assert/strict';
import { pino } from 'pino';
import type { Clock } from '../../src/clock.js';
import { parseConfig } from '../../src/config/load.js';
import { startServer, type RunningServer } from '../../src/api/server.js';
import { request } from '../helpers/http.js';
import { parseFamilies, type Family } from '../helpers/prometheus.js';
import { assertError, getManifest, pushImage, type PushedImage } from '../helpers/push.js';
import type { Registry } from '../helpers/registry.js';

export interface Instance extends Registry {
  server: RunningServer;
}

/** Resolves once the record batches the instance's clock started are written. */
export function recordsWritten(instance: Instance): Promise<void> {
  return (instance.server.registry.records as unknown as { settled(): Promise<void> }).settled();
}

/** `yaml` with `{{root}}` (the storage root, for the filesystem) and `{{addr}}` filled in. */
export async function startInstance(yaml: string, o: { clock: Clock; root?: string; env?: Record<string, string> }): Promise<Instance> {
  const { config } = parseConfig(yaml.replaceAll('{{root}}', o.root ?? '').replaceAll('{{addr}}', '127.0.0.1:0'), o.env ?? {});
  const server = await startServer(config, pino({ level: 'silent' }), { clock: o.clock });
  const url = server.url.replace(/\/$/, '');
  return {
    target: 'berth',
    url,
    base: o.root ?? '',
    root: o.root ?? '',
    server,
    req: (method, p, opts) => request(url, method, p, opts),
    stop: () => server.close(),
  };
}

/**
 * Pushes new immutable tags `tags` of `repo`, each to `contenders` different manifests at the same
 * moment (PUTs on fresh connections, spread over `targets`), and asserts that exactly one push per
 * tag wins: the others are refused with 403 DENIED naming the tag and the rule, and the tag names
 * the winner's manifest on every target.
 */
export async function raceImmutableTags(targets: Registry[], repo: string, tags: string[], rule: RegExp, contenders = 3): Promise<void> {
  const images: PushedImage[] = [];
  for (let i = 0; i < contenders; i++) images.push(await pushImage(targets[i % targets.length]!, repo, undefined, { layerSize: 64 }));
  for (const tag of tags) {
    const answers = await Promise.all(
      images.map((img, i) => targets[i % targets.length]!.req('PUT', `/v2/${repo}/manifests/${tag}`, { body: img.manifest.bytes, headers: { 'Content-Type': img.manifest.mediaType }, fresh: true })),
    );
    const won = answers.flatMap((res, i) => (res.status === 201 ? [images[i]!] : []));
    assert.equal(won.length, 1, `${tag}: one push wins (${answers.map((r) => r.status).join(', ')})`);
    for (const res of answers.filter((r) => r.status !== 201)) {
      assertError(res, 403, 'DENIED', tag);
      const message = (res.json() as { errors: Array<{ message: string }> }).errors[0]!.message;
      assert.match(message, new RegExp(`^tag ${tag} of ${repo} is immutable \\(`), tag);
      assert.match(message, rule, tag);
      assert.match(message, new RegExp(`points at ${won[0]!.manifest.digest}`), `${tag}: the refusal names the winner`);
    }
    for (const target of targets) assert.equal((await getManifest(target, repo, tag, 'HEAD')).header('docker-content-digest'), won[0]!.manifest.digest, tag);
  }
}

/** The `http.debug` section serving /metrics on `addr`, to follow `http.addr` in a config. */
export const debugYaml = (addr: string) => `  debug:\n    addr: ${addr}\n    prometheus:\n      enabled: true\n      path: /metrics\n`;

export async function scrape(debugUrl: string): Promise<Map<string, Family>> {
  const res = await fetch(`${debugUrl}/metrics`);
  assert.equal(res.status, 200);
  return parseFamilies(await res.text());
}

/** A gauge's samples as `label value → value`, for a family with one label. */
export function byLabel(families: Map<string, Family>, name: string): Record<string, number> {
  const f = families.get(name);
  assert.ok(f, `${name} is served`);
  assert.equal(f.type, 'gauge', `${name} is a gauge`);
  return Object.fromEntries(f.samples.map((s) => [Object.values(s.labels).join(','), s.value]));
}
