/**
 * Repository delete (DELETE /v2/_berth/repositories/<name>), the scheduled collection in serve,
 * and upload purging on its schedule (on a clock the tests move), and neither in read-only mode.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdir, readdir, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { collectGarbage } from '../../src/gc/collector.js';
import { age, blobsOnDisk, serve } from './fixture.js';
import { defaultYaml, startRegistry } from '../helpers/registry.js';
import { assertPullable } from './pull.js';
import { blob, random } from '../helpers/content.js';
import { assertError, pushBlob, pushImage, startUpload } from '../helpers/push.js';
import { ManualClock } from '../helpers/clock.js';
import { until as untilWithin } from '../helpers/wait.js';

/** A safety net of 15 s, not a timing. */
const until = (what: string, check: () => Promise<boolean>) => untilWithin(15_000, what, check);

describe('repository delete', () => {
  it('removes tags, revisions, links and uploads; the catalog drops it; GC reclaims its own blobs only', async () => {
    const s = await serve();
    try {
      const shared = await pushImage(s.reg, 'keep', 'a');
      const gone = await pushImage(s.reg, 'team/gone', 'b');
      await pushBlob(s.reg, 'team/gone', shared.layers[0]!.data); // a layer shared with "keep"
      await pushImage(s.reg, 'team/gone/nested', 'c');
      await startUpload(s.reg, 'team/gone');
      assert.deepEqual((await s.reg.req('GET', '/v2/_catalog')).json(), { repositories: ['keep', 'team/gone', 'team/gone/nested'] });

      const res = await s.reg.req('DELETE', '/v2/_berth/repositories/team/gone');
      assert.equal(res.status, 202);
      assert.deepEqual((await s.reg.req('GET', '/v2/_catalog')).json(), { repositories: ['keep', 'team/gone/nested'] });
      // The directory stays for the nested repository, but it is no repository any more.
      assertError(await s.reg.req('GET', '/v2/team/gone/tags/list'), 404, 'NAME_UNKNOWN');
      assert.equal((await s.reg.req('GET', `/v2/team/gone/manifests/${gone.manifest.digest}`)).status, 404);
      assert.equal((await s.reg.req('HEAD', `/v2/team/gone/blobs/${gone.layers[0]!.digest}`)).status, 404);
      const dir = path.join(s.root, 'docker/registry/v2/repositories/team/gone');
      assert.deepEqual(await readdir(dir), ['nested']);
      await assertPullable(s.reg, 'team/gone/nested', 'c');
      assertError(await s.reg.req('DELETE', '/v2/_berth/repositories/team/gone'), 404, 'NAME_UNKNOWN');
      assertError(await s.reg.req('DELETE', '/v2/_berth/repositories/Bad_Name'), 400, 'NAME_INVALID');
      // GET is the UI's repository page (docs/ui.md); other methods are refused.
      assertError(await s.reg.req('PUT', '/v2/_berth/repositories/keep'), 405, 'UNSUPPORTED');

      const r = await collectGarbage(s.server.registry.driver, { dryRun: false, deleteUntagged: false, graceMs: 0, registry: s.server.registry });
      const own = [gone.config.digest, gone.layers[0]!.digest, gone.manifest.digest];
      assert.deepEqual(new Set(r.blobsDeleted), new Set(own));
      await assertPullable(s.reg, 'keep', 'a');
    } finally {
      await s.stop();
    }
  });

  it('answers 405 UNSUPPORTED when deletes are disabled', async () => {
    const reg = await startRegistry({ deleteEnabled: false });
    try {
      await pushImage(reg, 'x', 'a');
      assertError(await reg.req('DELETE', '/v2/_berth/repositories/x'), 405, 'UNSUPPORTED');
      assert.equal((await reg.req('GET', '/v2/x/tags/list')).status, 200);
    } finally {
      await reg.stop();
    }
  });
});

const HOUR = 3600_000;

/** The default test configuration with berth.gc and upload purging switched on (hour-long periods: the tests move a clock). */
function maintenanceYaml(readonly: boolean): string {
  return defaultYaml({ readonly, extraYaml: 'berth:\n  gc:\n    enabled: true\n    interval: 1h\n    grace: 1h\n' })
    .replace('    uploadpurging:\n      enabled: false', '    uploadpurging:\n      enabled: true\n      age: 1h\n      interval: 1h\n      dryrun: false');
}

describe('scheduled maintenance in serve', () => {
  it('berth.gc runs on its interval and sweeps old unreferenced blobs', async () => {
    const clock = new ManualClock();
    const s = await serve({ extraYaml: 'berth:\n  gc:\n    enabled: true\n    interval: 1h\n    grace: 1h\n', clock });
    try {
      const img = await pushImage(s.reg, 'app', 'v1');
      const orphan = blob(random(100));
      await pushBlob(s.reg, 'app', orphan.data, orphan.digest);
      await age(path.join(s.root, 'docker/registry/v2'), 2 * HOUR);
      s.server.registry.blobs.guard.prune(Date.now() + 2 * HOUR);
      clock.advance(HOUR);
      await until('the scheduled run', async () => !(await blobsOnDisk(s.root)).has(orphan.digest));
      await assertPullable(s.reg, 'app', 'v1');
      assert.ok((await blobsOnDisk(s.root)).has(img.layers[0]!.digest));
    } finally {
      await s.stop();
    }
  });

  it('upload purging removes abandoned uploads older than age and keeps fresh ones', async () => {
    const clock = new ManualClock();
    const s = await serve({ yaml: maintenanceYaml(false).replace('    enabled: true\n    interval: 1h\n    grace: 1h', '    enabled: false'), clock });
    try {
      const uploads = path.join(s.root, 'docker/registry/v2/repositories/app/_uploads');
      // An abandoned upload started two hours ago (as Distribution writes it: startedat in RFC 3339).
      const stale = '0b5f3b6e-3f4c-4a47-9d61-1f2a3b4c5d6e';
      await mkdir(path.join(uploads, stale), { recursive: true });
      await writeFile(path.join(uploads, stale, 'startedat'), new Date(clock.now() - 2 * HOUR).toISOString());
      await writeFile(path.join(uploads, stale, 'data'), 'partial');
      const { location } = await startUpload(s.reg, 'app'); // fresh
      const fresh = new URL(location).pathname.split('/').pop()!;
      clock.advance(HOUR);
      await until('the stale upload to be purged', async () => !(await readdir(uploads)).includes(stale));
      assert.ok((await readdir(uploads)).includes(fresh), 'the fresh upload is kept');
      const patch = await s.reg.req('PATCH', location, { body: Buffer.from('abc'), headers: { 'Content-Type': 'application/octet-stream' } });
      assert.equal(patch.status, 202, 'the fresh upload still works');
      // Once older than age, the abandoned fresh upload goes too.
      clock.advance(HOUR);
      await until('the aged upload to be purged', async () => !(await readdir(uploads)).includes(fresh));
    } finally {
      await s.stop();
    }
  });

  it('read-only mode schedules neither garbage collection nor upload purging, and refuses repository delete', async () => {
    // A root with an orphan blob past the grace period and an abandoned upload.
    const w = await serve();
    await pushImage(w.reg, 'app', 'v1');
    const orphan = blob(random(100));
    await pushBlob(w.reg, 'app', orphan.data, orphan.digest);
    const { location } = await startUpload(w.reg, 'app');
    const upload = path.join(w.root, 'docker/registry/v2/repositories/app/_uploads', new URL(location).pathname.split('/').pop()!);
    await w.stop({ keep: true });
    await age(path.join(w.root, 'docker/registry/v2'), 2 * HOUR);
    try {
      const clock = new ManualClock();
      const ro = await serve({ base: w.base, yaml: maintenanceYaml(true), clock });
      try {
        assert.equal(clock.pending, 0, 'no background job is scheduled');
        clock.advance(3 * HOUR);
        assertError(await ro.reg.req('DELETE', '/v2/_berth/repositories/app'), 405, 'UNSUPPORTED');
        await assertPullable(ro.reg, 'app', 'v1');
        assert.ok((await blobsOnDisk(ro.root)).has(orphan.digest), 'the orphan blob is still there');
        assert.ok(existsSync(upload), 'the abandoned upload is still there');
      } finally {
        await ro.stop({ keep: true });
      }
      // The same configuration without read-only runs both (the check above would catch a switch left unread).
      const clock2 = new ManualClock();
      const rw = await serve({ base: w.base, yaml: maintenanceYaml(false), clock: clock2 });
      try {
        assert.ok(clock2.pending > 0, 'background jobs are scheduled');
        clock2.advance(3 * HOUR);
        await until('the orphan to be collected and the upload purged', async () => !(await blobsOnDisk(rw.root)).has(orphan.digest) && !existsSync(upload));
      } finally {
        await rw.stop({ keep: true });
      }
    } finally {
      await rm(w.base, { recursive: true, force: true });
    }
  });
});
