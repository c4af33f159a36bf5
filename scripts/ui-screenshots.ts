/**
 * `npm run screenshots`: the UI's main pages photographed in Debian's Chromium, desktop and phone
 * width, light and dark, into docs/ui/ (README and docs/ui.md show them). Starts a registry on a
 * temporary root with a few demo images, then stops it.
 */
import { mkdirSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { pushImage, pushManifest } from '../test/helpers/push.js';
import { startRegistry } from '../test/helpers/registry.js';
import { launch, openPage, PHONE } from '../test/ui/browser.js';
import { ARTIFACT, pushMultiArch, pushReferrer } from '../test/ui/fixture.js';

const OUT = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', 'docs', 'ui');
const APP = 'acme/storefront';

async function main(): Promise<void> {
  mkdirSync(OUT, { recursive: true });
  const base = await mkdtemp(path.join(os.tmpdir(), 'berth-shots-'));
  const reg = await startRegistry({ base, extraYaml: 'berth:\n  ui:\n    title: Acme registry\n' });
  const browser = await launch();
  try {
    const release = await pushMultiArch(reg, APP, 'v2.4.1', { baseSize: 2_900_000, layerSizes: [1_400_000, 1_350_000] });
    for (const tag of ['v2.4.0', 'v2.3.2', 'v2.3.1']) await pushMultiArch(reg, APP, tag, { baseSize: 2_800_000, layerSizes: [1_300_000, 1_250_000] });
    for (const tag of ['latest', 'stable']) await pushManifest(reg, APP, tag, release.index);
    await pushImage(reg, APP, 'debug-shell', { layers: 2, layerSize: 700_000 });
    const sbom = await pushReferrer(reg, APP, release.index, ARTIFACT.sbom);
    await pushReferrer(reg, APP, release.index, ARTIFACT.signature);
    await pushReferrer(reg, APP, sbom, ARTIFACT.signature);
    await pushReferrer(reg, APP, release.index, ARTIFACT.attestation);
    for (const name of ['acme/api', 'acme/worker', 'acme/web/admin', 'acme/web/docs', 'library/alpine', 'library/postgres', 'tools/ci-runner']) await pushImage(reg, name, 'latest', { layerSize: 200_000 });

    const shots: Array<[string, string, { colorScheme?: 'light' | 'dark'; viewport?: { width: number; height: number } }, string]> = [
      ['repositories', '/', {}, 'ul.repositories a.repo'],
      ['repositories-tree', '/#/?view=tree', {}, 'ul.repositories a.namespace'],
      ['repository', `/#/repo/${APP}`, {}, 'tr[data-tag=latest]'],
      ['image', `/#/image/${APP}@v2.4.1`, {}, 'tr[data-platform]'],
      ['image-platform', `/#/image/${APP}@${release.platforms[0]!.manifest.digest}`, {}, 'table.layers'],
      ['referrers', `/#/referrers/${APP}@${release.index.digest}`, {}, 'ul.tree'],
      ['repository-dark', `/#/repo/${APP}`, { colorScheme: 'dark' }, 'tr[data-tag=latest]'],
      ['repository-phone', `/#/repo/${APP}`, { viewport: PHONE }, 'tr[data-tag=latest]'],
      ['image-phone-dark', `/#/image/${APP}@v2.4.1`, { viewport: PHONE, colorScheme: 'dark' }, 'tr[data-platform]'],
    ];
    for (const [name, at, options, ready] of shots) {
      const { page, problems } = await openPage(browser, `${reg.url}${at}`, options);
      await page.locator(ready).first().waitFor();
      await page.screenshot({ path: path.join(OUT, `${name}.png`), fullPage: !name.includes('phone') });
      if (problems.length) throw new Error(`${name}: ${problems.join('; ')}`);
      await page.context().close();
      console.log(`docs/ui/${name}.png`);
    }
  } finally {
    await browser.close();
    await reg.stop();
    await rm(base, { recursive: true, force: true });
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
