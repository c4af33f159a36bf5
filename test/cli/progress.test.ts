// Progress bars in a real terminal: `berth copy` and `berth blob get` run in a tmux pane (a
// pseudo-terminal, 120×30), and the screen is read with capture-pane while the transfer runs
// (the source sits behind a proxy passing 4 MiB/s at most, so it takes seconds). On screen: one bar per blob in
// flight with its short digest and kind, bytes done of total, rate and ETA, a total line, and a
// line for each finished, skipped or mounted blob above the bars. The plain output in a pipe is
// tested in copy.test.ts.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Registry } from '../../src/client/remote/registry.js';
import { MediaTypes } from '../../src/oci/descriptor.js';
import { requireTools } from '../clients/harness.js';
import { image, pushAll, startTestRegistry, uniqueRepo, type TestRegistry } from '../client/fixtures.js';
import { CLI, CliHome } from './berth.js';
import { throttle, type Throttle } from './throttle.js';

const home = new CliHome();
after(() => home.cleanup());
/** A tmux server of this test's own (its socket under the test's HOME). */
const socket = path.join(home.dir, 'tmux.sock');
const tmux = (...args: string[]) => execFileSync('tmux', ['-S', socket, '-f', '/dev/null', ...args], { encoding: 'utf8' });
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Runs `berth ARGS` in a new tmux window; the pane stays after it exits, showing `EXIT=<code>`. */
function runInPane(name: string, args: string[]): void {
  const env = home.env();
  const quoted = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;
  const assignments = Object.entries(env).map(([k, v]) => `${k}=${quoted(v ?? '')}`).join(' ');
  const command = `env -i ${assignments} TERM=xterm-256color ${quoted(process.execPath)} ${quoted(CLI)} ${args.map(quoted).join(' ')}; echo EXIT=$?; sleep 600`;
  if (existsSync(socket)) tmux('new-window', '-d', '-n', name, command);
  else tmux('new-session', '-d', '-s', 'berth', '-n', name, '-x', '120', '-y', '30', command);
}

const screen = (name: string) => tmux('capture-pane', '-p', '-J', '-t', `berth:${name}`);

/** Reads the pane (wrapped lines joined) until `test` passes on a screen (returned), or fails with the last one. */
async function waitForScreen(name: string, test: (s: string) => boolean, what: string, timeoutMs = 120_000): Promise<string> {
  const end = Date.now() + timeoutMs;
  let last = '';
  while (Date.now() < end) {
    last = screen(name);
    if (test(last)) return last;
    if (/EXIT=\d+/.test(last) && !test(last)) break;
    await sleep(50);
  }
  assert.fail(`${what}; the screen was:\n${last}`);
}

describe('progress bars in a terminal (tmux)', () => {
  let source: TestRegistry;
  let dest: TestRegistry;
  let proxy: Throttle;
  const img = image({ layerSizes: [3000, 12 << 20] });
  const repo = uniqueRepo('bars');
  const short = (d: { desc: { digest: { value: string } } }) => d.desc.digest.value.slice(0, 19);

  before(async () => {
    requireTools('tmux');
    source = await startTestRegistry('berth');
    dest = await startTestRegistry('berth');
    proxy = await throttle(Number(new URL(source.url).port), 4 << 20);
    const r = new Registry(source.host, { credentials: null }).repository(repo);
    await pushAll(r, img.all.slice(0, -1));
    await r.pushManifest(img.manifest.data, { mediaType: MediaTypes.ociManifest, tag: 'v1' });
  });
  after(async () => {
    try {
      if (existsSync(socket)) tmux('kill-server');
    } catch {
      // the server had gone already
    }
    await proxy?.close();
    await source?.stop();
    await dest?.stop();
  });

  it('copy draws a bar per blob in flight (digest, kind, bytes of total, rate, ETA) and a total line; finished blobs are listed above', async () => {
    runInPane('copy', ['copy', `${proxy.host}/${repo}:v1`, `${dest.host}/${repo}:v1`]);
    const big = short(img.layers[1]!);
    const barLine = new RegExp(`${big} layer +\\|[\\u2588\\u2591]+\\| +\\d+(\\.\\d)? (KiB|MiB) / 12\\.0 MiB +\\d+(\\.\\d)? (KiB|MiB)/s +ETA (\\d+m)?\\d+s`);
    const live = await waitForScreen('copy', (s) => barLine.test(s) && /total, \d+ done +\|/.test(s) && s.includes(`copied  ${short(img.config)} config`), 'a live bar for the 24 MiB layer, the total line, the config listed as copied');
    assert.ok(!/EXIT=/.test(live), 'seen while the copy ran');
    // The bar moves: a later screen shows more bytes of the layer.
    const done = (s: string) => Number(new RegExp(`${big} layer +\\|[^|]+\\| +(\\d+(?:\\.\\d)?) MiB`).exec(s)?.[1] ?? '0');
    const first = done(live);
    const later = await waitForScreen('copy', (s) => done(s) > first || /EXIT=/.test(s), 'more bytes of the layer');
    assert.ok(done(later) > first || /EXIT=0/.test(later));

    const end = await waitForScreen('copy', (s) => /EXIT=\d+/.test(s), 'the copy to end');
    assert.match(end, /EXIT=0/);
    assert.match(end, new RegExp(`copied  ${short(img.layers[0]!)} layer  2\\.9 KiB`));
    assert.match(end, new RegExp(`copied  ${big} layer  12\\.0 MiB`));
    assert.match(end, new RegExp(`copied  ${short(img.manifest)} manifest`));
    assert.match(end, new RegExp(`${dest.host}/${repo}:v1: ${img.manifest.desc.digest.value} \\(4 copied, 0 skipped, 0 mounted; 12\\.0 MiB in \\d+\\.\\d s\\)`));
    assert.match(end, /total, 4 done +\|\u2588+\| +12\.0 MiB \/ 12\.0 MiB/);
  });

  it('a second copy lists the image as skipped; blob get draws its bar too', async () => {
    runInPane('again', ['copy', `${proxy.host}/${repo}:v1`, `${dest.host}/${repo}:v1`]);
    const again = await waitForScreen('again', (s) => /EXIT=\d+/.test(s), 'the second copy to end');
    assert.match(again, new RegExp(`skipped ${short(img.manifest)} manifest  \\d+ B  exists`));
    assert.match(again, /\(0 copied, 1 skipped, 0 mounted; 0 B in /);
    assert.match(again, /total, 1 done +\|\u2588+\| +0 B \/ 0 B/, 'nothing to move: the total bar is full');
    assert.match(again, /EXIT=0/);

    const out = path.join(home.dir, 'layer.bin');
    const big = img.layers[1]!;
    runInPane('blob', ['blob', 'get', `${proxy.host}/${repo}@${big.desc.digest.value}`, '-o', out]);
    await waitForScreen('blob', (s) => new RegExp(`${short(big)} blob +\\|[\\u2588\\u2591]+\\| +\\d+(\\.\\d)? (KiB|MiB) / 12\\.0 MiB .*ETA (\\d+m)?\\d+s`).test(s), 'a live bar for the blob');
    assert.match(await waitForScreen('blob', (s) => /EXIT=\d+/.test(s), 'blob get to end'), /EXIT=0/);
    assert.deepEqual(readFileSync(out), big.data);
  });
});
