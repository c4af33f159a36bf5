// The OCI layout target on its own: content is verified before it becomes visible and a refused
// write leaves nothing behind; tags are index.json entries, replaced in place; a corrupted blob
// fails the read instead of passing bad bytes on.
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { after, describe, it } from 'node:test';
import { OciLayout } from '../../src/client/layout/oci-layout.js';
import { ContentNotFoundError, DigestMismatchError } from '../../src/client/errors.js';
import { readAll } from '../../src/client/content/verify.js';
import { content, image } from './fixtures.js';

const tmp = mkdtempSync(path.join(os.tmpdir(), 'berth-client-layout-'));
after(() => rmSync(tmp, { recursive: true, force: true }));

describe('OCI layout target', () => {
  it('writes oci-layout and index.json, and refuses content that does not match, leaving nothing', async () => {
    const dir = path.join(tmp, 'a');
    const layout = new OciLayout(dir);
    const good = content('good bytes');
    const bad = content('bad bytes!');
    await assert.rejects(layout.push(good.desc, Readable.from([bad.data])), DigestMismatchError);
    assert.deepEqual(JSON.parse(readFileSync(path.join(dir, 'oci-layout'), 'utf8')), { imageLayoutVersion: '1.0.0' });
    assert.deepEqual(JSON.parse(readFileSync(path.join(dir, 'index.json'), 'utf8')).manifests, []);
    assert.equal(await layout.exists(good.desc), false);
    assert.deepEqual(readdirSync(dir).sort(), ['blobs', 'index.json', 'oci-layout'], 'no temporary file left');
    await layout.push(good.desc, good.data);
    assert.equal(await layout.exists(good.desc), true);
    assert.equal(readFileSync(layout.blobPath(good.desc.digest), 'utf8'), 'good bytes');
  });

  it('tags are index.json entries; a tag moves, other entries stay', async () => {
    const layout = new OciLayout(path.join(tmp, 'b'));
    const one = image();
    const two = image();
    for (const c of [...one.all, ...two.all]) await layout.push(c.desc, c.data);
    await layout.tag(one.manifest.desc, 'v1');
    await layout.tag(one.manifest.desc, 'stable');
    await layout.tag(two.manifest.desc, 'v1');
    assert.equal((await layout.resolve('v1')).digest.value, two.manifest.desc.digest.value);
    assert.equal((await layout.resolve('stable')).digest.value, one.manifest.desc.digest.value);
    const tags: string[] = [];
    for await (const t of layout.tags()) tags.push(t);
    assert.deepEqual(tags.sort(), ['stable', 'v1']);
    // An untagged manifest is found by digest, its type read from its own mediaType field.
    const three = image();
    for (const c of three.all) await layout.push(c.desc, c.data);
    assert.deepEqual(await layout.resolve(three.manifest.desc.digest.value), three.manifest.desc);
    await assert.rejects(layout.resolve('missing'), ContentNotFoundError);
    await assert.rejects(layout.tag(content('not here').desc, 'x'), ContentNotFoundError);
  });

  it('a corrupted blob fails the read', async () => {
    const layout = new OciLayout(path.join(tmp, 'c'));
    const c = content('original content');
    await layout.push(c.desc, c.data);
    writeFileSync(layout.blobPath(c.desc.digest), 'tampered content');
    await assert.rejects(readAll(await layout.fetch(c.desc), 1024), DigestMismatchError);
  });
});
