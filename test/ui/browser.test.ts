// The web UI in a real browser (Debian's Chromium driven by playwright-core) against the real
// server: browse to a repository among 10,000, a multi-arch tag with both platforms and their
// sizes, the referrers tree, filtering tags, deleting one tag while its sibling stays, keyboard
// use, the dark theme, a phone-width page; and with htpasswd, signing in to see only what the
// user may pull.
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { Browser, Page } from 'playwright-core';
import { defaultYaml, startRegistry, type Registry } from '../helpers/registry.js';
import { getManifest, pushManifest } from '../helpers/push.js';
import { basic, pushImage as pushWithAuth, tempDir, writeHtpasswd } from '../auth/helpers.js';
import { bytes } from '../../src/ui/format.js';
import { launch, openPage, PHONE } from './browser.js';
import { ARTIFACT, pushImageCreated, pushMultiArch, pushReferrer, type MultiArch } from './fixture.js';
import { repositoryName, writeRepositories } from './layout.js';

const REPOSITORIES = 10_000;
const APP = 'shop/frontend';

let browser: Browser;
before(async () => {
  browser = await launch();
});
after(async () => {
  await browser?.close();
});

/** The text of each row of the tag table, by tag. */
async function tagRows(page: Page): Promise<string[]> {
  return page.locator('table.tags tbody tr[data-tag]').evaluateAll((rows) => rows.map((r) => (r as HTMLElement).dataset.tag!));
}

describe('the UI of a registry with 10,000 repositories', () => {
  let base: string;
  let reg: Registry;
  let multi: MultiArch;
  let sbom: { digest: string };
  let sbomSignature: { digest: string };

  before(async () => {
    base = await mkdtemp(path.join(os.tmpdir(), 'berth-ui-'));
    await writeRepositories(path.join(base, 'storage'), REPOSITORIES);
    reg = await startRegistry({ base, extraYaml: 'berth:\n  ui:\n    title: Harbor Master\n' });
    multi = await pushMultiArch(reg, APP, 'v1.0', { baseSize: 30_000, layerSizes: [12_000, 25_000] });
    for (const tag of ['v1.1', 'v2.0', 'edge']) await pushMultiArch(reg, APP, tag);
    await pushManifest(reg, APP, 'twin-a', multi.index);
    await pushManifest(reg, APP, 'twin-b', multi.index);
    const s = await pushReferrer(reg, APP, multi.index, ARTIFACT.sbom);
    sbom = s;
    await pushReferrer(reg, APP, multi.index, ARTIFACT.signature);
    sbomSignature = await pushReferrer(reg, APP, s, ARTIFACT.signature);
    await pushReferrer(reg, APP, multi.index, ARTIFACT.attestation);
    await pushImageCreated(reg, APP, 'reproducible', '1970-01-01T00:00:00Z');
  });
  after(async () => {
    await reg?.stop();
    await rm(base, { recursive: true, force: true });
  });

  it('browses to a repository among 10,000 by filter, by tree and by paging', async () => {
    const { page, problems } = await openPage(browser, `${reg.url}/`);
    await page.getByText(`${(REPOSITORIES + 1).toLocaleString('en-US')} in all`).waitFor();
    assert.equal(await page.title(), 'Harbor Master');
    assert.equal(await page.locator('ul.repositories li').count(), 50, 'one page of 50');
    // The last page of the catalog, far past the registry API's 1000-name pages.
    await page.locator('nav.pager a[rel=next]').click();
    await page.getByText('51–100 of').waitFor();
    await page.goto(`${reg.url}/#/?page=200`);
    await page.getByText('10,001–10,001 of 10,001 · page 201 of 201').waitFor();
    // Filter, then open the repository.
    const target = repositoryName(7_777);
    await page.goto(`${reg.url}/`);
    await page.getByPlaceholder('Filter repositories').fill('service-07777');
    await page.locator('ul.repositories a.repo', { hasText: target }).click();
    await page.locator('h1', { hasText: target }).waitFor();
    await page.locator('tr[data-tag="latest"]').waitFor();
    assert.deepEqual(await tagRows(page), ['latest']);
    // The namespace tree: 101 namespaces at the top (three pages), org-042 holds 100 repositories.
    await page.goto(`${reg.url}/#/?view=tree`);
    await page.getByText('1–50 of 101').waitFor();
    await page.locator('a.namespace', { hasText: 'org-042/' }).click();
    await page.getByText('1–50 of 100').waitFor();
    await page.locator('a.repo', { hasText: 'org-042/service-04200' }).waitFor();
    assert.equal(await page.locator('ul.repositories a.repo').count(), 50);
    assert.deepEqual(problems, []);
  });

  it('keeps a filter typed before the page has settled', async () => {
    // Types in the microtask right after the filter box first appears: before the page's first effects run,
    // which once reset the box to the route's empty filter (a quick typist's text vanished).
    const typeAtOnce = `new MutationObserver((_, seen) => {
      const box = document.querySelector('input[type=search]');
      if (!box) return;
      seen.disconnect();
      box.value = 'service-07777';
      box.dispatchEvent(new Event('input', { bubbles: true }));
    }).observe(document, { childList: true, subtree: true });`;
    const { page, problems } = await openPage(browser, `${reg.url}/`, { init: typeAtOnce });
    await page.getByText('1 match').waitFor();
    assert.deepEqual(await page.locator('ul.repositories a.repo').allTextContents(), [repositoryName(7_777)]);
    assert.equal(await page.getByPlaceholder('Filter repositories').inputValue(), 'service-07777');
    assert.deepEqual(problems, []);
  });

  it('shows a multi-arch tag with both platforms and their sizes, in the tag list and on its page', async () => {
    // Two pulls of v1.0 (GETs; the HEAD is not one), none of v1.1: the pull records show.
    for (const method of ['GET', 'GET', 'HEAD'] as const) assert.equal((await getManifest(reg, APP, 'v1.0', method)).status, 200);
    const { page, problems } = await openPage(browser, `${reg.url}/#/repo/${APP}`);
    const row = page.locator('tr[data-tag="v1.0"]');
    await row.waitFor();
    const pulled = row.locator('td[data-label="Last pulled"]');
    assert.match((await pulled.textContent()) ?? '', /now|second/);
    assert.match((await pulled.getAttribute('title')) ?? '', /pulled twice$/);
    assert.equal((await page.locator('tr[data-tag="v1.1"] td[data-label="Last pulled"]').textContent())?.trim(), 'never');
    for (const p of multi.platforms) {
      await row.locator('ul.platforms li', { hasText: `linux/${p.architecture} ${bytes(p.size)}` }).waitFor();
    }
    assert.equal((await row.locator('td[data-label=Size]').textContent())?.trim(), bytes(multi.size));
    await row.locator('a.tag').click();
    await page.locator('h2', { hasText: 'Platforms' }).waitFor();
    await page.locator('dl.facts').getByText('· pulled twice').waitFor();
    for (const p of multi.platforms) {
      const platform = page.locator(`tr[data-platform="linux/${p.architecture}"]`);
      assert.equal((await platform.locator('td[data-label=Size]').textContent())?.trim(), bytes(p.size));
    }
    // Every pull command is there, with a copy button.
    for (const tool of ['docker', 'podman', 'skopeo', 'oras', 'berth']) {
      await page.locator('.command').filter({ has: page.locator('.tool', { hasText: new RegExp(`^${tool}$`) }) }).locator('button.copy').waitFor();
    }
    // The copy button puts the command on the clipboard.
    await page.context().grantPermissions(['clipboard-read', 'clipboard-write']);
    const docker = page.locator('.command').filter({ has: page.locator('.tool', { hasText: /^docker$/ }) });
    await docker.locator('button.copy').click();
    await docker.getByText('Copied').waitFor();
    assert.equal(await page.evaluate(() => navigator.clipboard.readText()), `docker pull ${new URL(reg.url).host}/${APP}:v1.0`);
    // A platform opens its own image page: config and layers.
    await page.locator('tr[data-platform="linux/arm64"] a').click();
    await page.locator('table.layers').getByText('COPY app-arm64 /bin/app').waitFor();
    await page.getByText('ARCH=arm64').waitFor();
    assert.deepEqual(problems, []);
  });

  it('opens the referrers tree: an SBOM with its own signature below it, grouped by kind', async () => {
    const { page, problems } = await openPage(browser, `${reg.url}/#/image/${APP}@v1.0`);
    await page.getByRole('link', { name: '3 referrers' }).click();
    await page.getByText('4 in all').waitFor();
    const sboms = page.locator('section[data-kind=sbom]');
    const node = sboms.locator(`li[data-digest="${sbom.digest}"]`);
    await node.waitFor();
    await node.locator(`li[data-digest="${sbomSignature.digest}"] .badge`, { hasText: 'signature' }).waitFor();
    assert.equal(await page.locator('section[data-kind=signature] > ul > li').count(), 1);
    assert.equal(await page.locator('section[data-kind=attestation] > ul > li').count(), 1);
    assert.deepEqual(problems, []);
  });

  it('shows a creation time at the Unix epoch (a reproducible build) as not recorded, in the tag list and on the image page', async () => {
    const { page, problems } = await openPage(browser, `${reg.url}/#/repo/${APP}?q=reproducible`);
    const created = page.locator('tr[data-tag="reproducible"] td[data-label="Created"]');
    await created.waitFor();
    assert.equal((await created.textContent())?.trim(), '—');
    assert.equal(await created.getAttribute('title'), 'not recorded in the image');
    // The other tags' real times still show.
    await page.goto(`${reg.url}/#/repo/${APP}?q=v1.0`);
    assert.match((await page.locator('tr[data-tag="v1.0"] td[data-label="Created"]').getAttribute('title')) ?? '', /2024/);
    await page.goto(`${reg.url}/#/image/${APP}@reproducible`);
    await page.locator('h2', { hasText: 'Layers' }).waitFor();
    const fact = page.locator('dl.facts dt', { hasText: /^Created$/ }).locator('xpath=following-sibling::dd[1]');
    assert.equal((await fact.textContent())?.trim(), '—');
    // Its history steps carry the same time: shown without one.
    await page.getByText(/History \(3 steps\)/).click();
    assert.deepEqual(await page.locator('ol.history li').allTextContents(), ['ADD base.tar /', 'ENV ARCH', 'COPY app-amd64 /bin/app']);
    assert.deepEqual(problems, []);
  });

  it('filters tags by substring and by regular expression', async () => {
    const { page, problems } = await openPage(browser, `${reg.url}/#/repo/${APP}`);
    await page.locator('tr[data-tag="edge"]').waitFor();
    await page.getByPlaceholder('Filter tags').fill('v1');
    await page.waitForFunction(() => document.querySelectorAll('table.tags tr[data-tag]').length === 2);
    assert.deepEqual(await tagRows(page), ['v1.0', 'v1.1']);
    await page.getByLabel('regex').check();
    await page.getByPlaceholder('Filter tags (regular expression)').fill('^(twin|edge)');
    await page.waitForFunction(() => document.querySelectorAll('table.tags tr[data-tag]').length === 3);
    assert.deepEqual(await tagRows(page), ['edge', 'twin-a', 'twin-b']);
    assert.deepEqual(problems, []);
  });

  it('deletes one tag after confirming, and its sibling on the same digest stays', async () => {
    const { page, problems } = await openPage(browser, `${reg.url}/#/repo/${APP}?q=twin`);
    await page.locator('tr[data-tag="twin-a"]').getByRole('button', { name: 'Delete tag twin-a' }).click();
    const dialog = page.getByRole('dialog');
    await dialog.getByText('and so does every other tag that points at it').waitFor();
    await dialog.getByRole('button', { name: 'Delete tag' }).click();
    await page.waitForFunction(() => !document.querySelector('tr[data-tag="twin-a"]'));
    assert.deepEqual(await tagRows(page), ['twin-b']);
    assert.equal((await reg.req('GET', `/v2/${APP}/manifests/twin-b`)).status, 200);
    assert.equal((await reg.req('GET', `/v2/${APP}/manifests/twin-a`)).status, 404);
    assert.equal((await reg.req('GET', `/v2/${APP}/manifests/${multi.index.digest}`)).status, 200, 'the image stays');
    assert.deepEqual(problems, []);
  });

  it('works from the keyboard: "/" focuses the filter, Tab and Enter open a repository', async () => {
    const { page } = await openPage(browser, `${reg.url}/`);
    await page.locator('ul.repositories a.repo').first().waitFor();
    await page.keyboard.press('/');
    assert.equal(await page.evaluate(() => document.activeElement?.getAttribute('placeholder')), 'Filter repositories');
    await page.keyboard.type('shop/');
    await page.locator('ul.repositories li').filter({ hasText: APP }).waitFor();
    await page.waitForFunction(() => document.querySelectorAll('ul.repositories li').length === 1);
    // From the filter: past the view switch (Flat, Tree) to the first repository.
    for (let i = 0; i < 3; i++) await page.keyboard.press('Tab');
    assert.equal(await page.evaluate(() => document.activeElement?.textContent), APP);
    await page.keyboard.press('Enter');
    await page.locator('h1', { hasText: APP }).waitFor();
  });

  it('follows a dark system theme, and a chosen theme overrides it', async () => {
    const background = (page: Page) => page.evaluate(() => getComputedStyle(document.documentElement).backgroundColor);
    const { page } = await openPage(browser, `${reg.url}/`, { colorScheme: 'dark' });
    await page.locator('ul.repositories').waitFor();
    assert.equal(await background(page), 'rgb(15, 18, 22)', 'dark by the system setting');
    await page.getByLabel('Theme').selectOption('light');
    assert.equal(await background(page), 'rgb(247, 248, 250)', 'light when chosen');
    await page.reload();
    await page.locator('ul.repositories').waitFor();
    assert.equal(await background(page), 'rgb(247, 248, 250)', 'the choice is remembered');
    await page.getByLabel('Theme').selectOption('dark');
    assert.equal(await background(page), 'rgb(15, 18, 22)');
  });

  it('fits a phone: no sideways scrolling, tag rows as labelled cards', async () => {
    const { page } = await openPage(browser, `${reg.url}/#/repo/${APP}`, { viewport: PHONE });
    await page.locator('tr[data-tag="v1.0"]').waitFor();
    assert.ok(await page.evaluate(() => document.documentElement.scrollWidth <= window.innerWidth), 'nothing wider than the screen');
    const cell = page.locator('tr[data-tag="v1.0"] td[data-label=Size]');
    assert.equal(await cell.evaluate((td) => getComputedStyle(td, '::before').content), '"Size"');
  });
});

/** Signs in through the page's login form. */
async function signIn(page: Page, user: string, password: string): Promise<void> {
  const form = page.locator('form.login');
  await form.getByLabel('User name').fill(user);
  await form.getByLabel('Password').fill(password);
  await form.getByRole('button', { name: 'Sign in' }).click();
}

describe('the UI with htpasswd and permissions', () => {
  const tmp = tempDir('ui-browser');
  const file = path.join(tmp.dir, 'htpasswd');
  let reg: Registry;
  const REPOS = ['team-a/api', 'team-a/web', 'team-b/db'];

  before(async () => {
    writeHtpasswd(file, { root: 'rootpw', alice: 'alicepw' });
    const extra = [
      'auth:',
      '  htpasswd:',
      '    realm: ui-browser',
      `    path: ${file}`,
      'berth:',
      '  auth:',
      '    permissions:',
      '      - repositories: ["**"]',
      '        users: [root]',
      '        actions: [pull, push, delete]',
      '      - repositories: ["team-a/**"]',
      '        users: [alice]',
      '        actions: [pull]',
      '',
    ].join('\n');
    reg = await startRegistry({ yaml: defaultYaml({ extraYaml: extra }) });
    for (const repo of REPOS) assert.equal((await pushWithAuth(reg, repo, 'latest', { Authorization: basic('root', 'rootpw') })).status, 201);
  });
  after(async () => {
    await reg?.stop();
    tmp.cleanup();
  });

  it('asks to sign in, refuses a wrong password, then shows only the repositories the user may pull', async () => {
    const { page, problems } = await openPage(browser, `${reg.url}/`);
    await signIn(page, 'alice', 'wrong');
    await page.locator('form.login').getByText('Wrong user name or password.').waitFor();
    await signIn(page, 'alice', 'alicepw');
    await page.locator('ul.repositories a.repo').first().waitFor();
    assert.deepEqual(await page.locator('ul.repositories a.repo').allTextContents(), ['team-a/api', 'team-a/web']);
    await page.locator('header .user', { hasText: 'alice' }).waitFor();
    // Pull only: no delete buttons.
    await page.locator('ul.repositories a.repo', { hasText: 'team-a/api' }).click();
    await page.locator('tr[data-tag=latest]').waitFor();
    assert.equal(await page.getByRole('button', { name: /^Delete/ }).count(), 0);
    // Signed out, the form is back; root sees everything and may delete.
    await page.getByRole('button', { name: 'Sign out' }).click();
    await page.goto(`${reg.url}/`);
    await signIn(page, 'root', 'rootpw');
    await page.locator('ul.repositories a.repo', { hasText: 'team-b/db' }).click();
    await page.getByRole('button', { name: 'Delete tag latest' }).waitFor();
    assert.deepEqual(problems, []);
  });
});

describe('the UI with the built-in token issuer', () => {
  const tmp = tempDir('ui-browser-token');
  const file = path.join(tmp.dir, 'htpasswd');
  let reg: Registry;

  before(async () => {
    writeHtpasswd(file, { root: 'rootpw', alice: 'alicepw' });
    const extra = ['auth:', '  token:', '    autoredirect: true', '    service: ui-browser', '    issuer: ui-browser', 'berth:', '  auth:', '    tokenissuer:', `      htpasswd: ${file}`, '    permissions:', '      - repositories: ["**"]', '        users: [root]', '        actions: [pull, push, delete]', '      - repositories: ["team-a/**"]', '        users: [alice]', '        actions: [pull]', '      - repositories: ["public/*"]', '        anonymous: true', ''].join('\n');
    reg = await startRegistry({ yaml: defaultYaml({ extraYaml: extra }) });
    for (const repo of ['public/base', 'team-a/api', 'team-b/db']) {
      const q = new URLSearchParams({ service: 'ui-browser', scope: `repository:${repo}:pull,push` });
      const token = (await reg.req('GET', `/auth/token?${q}`, { headers: { Authorization: basic('root', 'rootpw') } })).json().token as string;
      assert.equal((await pushWithAuth(reg, repo, 'latest', { Authorization: `Bearer ${token}` })).status, 201);
    }
  });
  after(async () => {
    await reg?.stop();
    tmp.cleanup();
  });

  it('shows anonymous users what they may pull, and signed-in users theirs, with tokens from the issuer', async () => {
    const { page, problems } = await openPage(browser, `${reg.url}/`);
    await page.locator('ul.repositories a.repo').first().waitFor();
    assert.deepEqual(await page.locator('ul.repositories a.repo').allTextContents(), ['public/base']);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await signIn(page, 'alice', 'alicepw');
    await page.locator('header .user', { hasText: 'alice' }).waitFor();
    await page.locator('ul.repositories a.repo', { hasText: 'team-a/api' }).waitFor();
    assert.deepEqual(await page.locator('ul.repositories a.repo').allTextContents(), ['public/base', 'team-a/api']);
    await page.locator('ul.repositories a.repo', { hasText: 'team-a/api' }).click();
    await page.locator('tr[data-tag=latest]').waitFor();
    assert.equal(await page.getByRole('button', { name: /^Delete/ }).count(), 0, 'alice may only pull');
    assert.deepEqual(problems, []);
  });
});
