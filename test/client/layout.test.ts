// The OCI layout target on its own: content is verified before it becomes visible and a refused
// write leaves nothing behind; tags are index.json entries, replaced in place; a corrupted blob
// fails the read instead of passing bad bytes on; a registry's blob stream, which verifies itself,
// is written as it is and still refused when its bytes do not match.
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { after, describe, it } from 'node:test';
import { OciLayout } from '../../src/client/layout/oci-layout.js';
import { Registry } from '../../src/client/remote/registry.js';
import { ContentNotFoundError, DigestMismatchError } from '../../src/client/errors.js';
import { isVerified, readAll } from '../../src/client/content/verify.js';
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

  it('writes a registry\'s blob stream (verified as it arrives) without a second check, and refuses it when the registry sends other bytes', async () => {
    const blob = content(Buffer.alloc(3 << 20, 7));
    let sent = blob.data;
    // A registry of one blob, whose bytes the test chooses.
    const server = http.createServer((_req, res) => {
      res.writeHead(200, { 'Content-Length': String(sent.length) });
      res.end(sent);
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const registry = new Registry(`127.0.0.1:${(server.address() as { port: number }).port}`, { credentials: null });
    try {
      const dir = path.join(tmp, 'd');
      const layout = new OciLayout(dir);
      const stream = await registry.repository('r').fetchBlob(blob.desc);
      assert.equal(isVerified(stream, blob.desc), true);
      assert.equal(isVerified(stream, { ...blob.desc, size: blob.desc.size + 1 }), false, 'only for the descriptor it verifies');
      await layout.push(blob.desc, stream);
      assert.ok(readFileSync(layout.blobPath(blob.desc.digest)).equals(blob.data));

      const other = content(Buffer.alloc(3 << 20, 8));
      sent = Buffer.alloc(3 << 20, 9);
      await assert.rejects(layout.push(other.desc, await registry.repository('r').fetchBlob(other.desc)), DigestMismatchError);
      assert.equal(await layout.exists(other.desc), false);
      assert.deepEqual(readdirSync(dir).sort(), ['blobs', 'index.json', 'oci-layout'], 'no temporary file left');
    } finally {
      registry.close();
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    }
  });
});
