// What a real client (skopeo) shows when policy refuses a push or a delete: the registry's own
// message (tag, rule, usage and limit), and nothing changed.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { CommandError, type RunningRegistry, Workspace, getManifest, registryConfig, requireTools, startRegistry } from '../clients/harness.js';
import { type BuiltImage, buildImage, multiLayerSpec } from '../clients/images.js';

const POLICY = `berth:
  immutabletags:
    - repositories: ["team/**"]
      tags: ["^v[0-9]"]
  quotas:
    - repositories: ["small/*"]
      maxbytes: 1MiB
      each: true
`;

async function refusal(run: Promise<unknown>): Promise<string> {
  const err = await run.then(
    () => undefined,
    (e: unknown) => e,
  );
  assert.ok(err instanceof CommandError, 'the client failed');
  return err.stderr;
}

describe('skopeo against policy', () => {
  let ws: Workspace;
  let reg: RunningRegistry;
  let src: string;
  let one: BuiltImage;
  let two: BuiltImage;
  const tls = ['--src-tls-verify=false', '--dest-tls-verify=false'];
  const skopeo = (...args: string[]) => ws.client('skopeo', ['--policy', ws.policyFile, ...args]);
  const docker = (ref: string) => `docker://${reg.host}/${ref}`;

  before(async () => {
    requireTools('skopeo', 'umoci');
    ws = new Workspace('policy-skopeo');
    const root = ws.path('registry-root');
    reg = await startRegistry({ kind: 'berth', root, config: (port) => registryConfig({ root, port, extra: POLICY }) });
    src = ws.path('src-layout');
    one = await buildImage(ws, src, 'one', { layers: [{ 'etc/one': 'one\n' }] });
    two = await buildImage(ws, src, 'two', multiLayerSpec());
  });

  after(async () => {
    await reg?.stop();
    ws?.cleanup();
  });

  it('shows the immutable tag refusals and keeps the tag', async () => {
    await skopeo('copy', ...tls, `oci:${src}:one`, docker('team/app:v1'));
    await skopeo('copy', ...tls, `oci:${src}:one`, docker('team/app:v1')); // the same image again: fine
    const moved = await refusal(skopeo('copy', ...tls, `oci:${src}:two`, docker('team/app:v1')));
    assert.match(moved, /denied: tag v1 of team\/app is immutable \(berth\.immutabletags\[0\] \(repositories team\/\*\*, tags \^v\[0-9\]\)\): it points at sha256:/);
    const deleted = await refusal(skopeo('delete', '--tls-verify=false', docker('team/app:v1')));
    assert.match(deleted, /tag v1 of team\/app is immutable .*cannot be deleted/);
    assert.equal((await getManifest(reg.url, 'team/app', 'v1')).digest, one.digest);
  });

  it('shows the quota refusal with the rule, the usage and the limit', async () => {
    const stderr = await refusal(skopeo('copy', ...tls, `oci:${src}:two`, docker('small/app:latest')));
    assert.match(stderr, /denied: quota exceeded: berth\.quotas\[0\] \(repositories small\/\*, each\) allows 1 MiB \(1048576 bytes\), repository small\/app uses/);
    assert.equal((await getManifest(reg.url, 'small/app', 'latest')).status, 404);
    await skopeo('copy', ...tls, `oci:${src}:one`, docker('small/app:latest'));
  });
});
