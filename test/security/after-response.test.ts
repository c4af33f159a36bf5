/**
 * Code that runs after a response (access log, metrics, notifications) must not end the process:
 * a manifest PUT of 4 MiB + 1 byte sent chunked gets its 413 and the connection is cut, after
 * which req.socket is null. It used to take `berth serve` down from the access-log line. Checked
 * with the log at info and debug, in both formats, anonymous and as a user with push rights, and
 * with metrics and notifications on.
 */
import assert from 'node:assert/strict';
import path from 'node:path';
import { describe, it } from 'node:test';
import { basic, tempDir, writeHtpasswd } from '../auth/helpers.js';
import { request } from '../helpers/http.js';
import { assertStillServing, sendChunked, startLogged, waitForLog, type Level } from './harness.js';

const OVER_MANIFEST_LIMIT = 4 * 1024 * 1024 + 1;
const MANIFEST = { 'Content-Type': 'application/vnd.oci.image.manifest.v1+json' };

for (const level of ['info', 'debug'] as Level[]) {
  describe(`after the response, log level ${level}`, () => {
    for (const formatter of ['text', 'json'] as const) {
      it(`a chunked manifest PUT over 4 MiB gets 413 and the process serves on (${formatter} log)`, async () => {
        const reg = await startLogged({ level, formatter });
        try {
          for (let i = 0; i < 3; i++) {
            const res = await sendChunked(reg, 'PUT', '/v2/crash/manifests/latest', OVER_MANIFEST_LIMIT, MANIFEST);
            assert.equal(res.status, 413);
          }
          // The access line is written from what was captured at the start: the peer is known.
          await waitForLog(reg, formatter === 'text' ? /msg=request .*status=413 .*remote=127\.0\.0\.1/ : /"status":413,.*"remote":"127\.0\.0\.1","msg":"request"/);
          await assertStillServing(reg);
        } finally {
          await reg.stop();
        }
      });
    }

    it('the same as a user with push rights, with metrics and notifications on', async () => {
      const tmp = tempDir('after-response');
      const htpasswd = path.join(tmp.dir, 'htpasswd');
      writeHtpasswd(htpasswd, { pusher: 'push-secret' });
      const reg = await startLogged({
        level,
        http: ['debug:', '  addr: 127.0.0.1:0', '  prometheus:', '    enabled: true', '    path: /metrics'],
        extra: [
          'auth:',
          '  htpasswd:',
          '    realm: security',
          `    path: ${htpasswd}`,
          'notifications:',
          '  endpoints:',
          '    - name: nowhere',
          // A closed port: deliveries fail and are retried in the background, never in a request.
          '      url: http://127.0.0.1:9/events',
          '      timeout: 1s',
          '      threshold: 1',
          '      backoff: 1s',
        ].join('\n'),
      });
      const auth = { Authorization: basic('pusher', 'push-secret') };
      try {
        const res = await sendChunked(reg, 'PUT', '/v2/team/app/manifests/v1', OVER_MANIFEST_LIMIT, { ...MANIFEST, ...auth });
        assert.equal(res.status, 413);
        // A blob pull with Connection: close: its notification is made after the socket is gone.
        const data = Buffer.from('layer');
        const { createHash } = await import('node:crypto');
        const digest = `sha256:${createHash('sha256').update(data).digest('hex')}`;
        const put = await reg.req('POST', `/v2/team/app/blobs/uploads/?digest=${digest}`, { body: data, headers: { ...auth, 'Content-Type': 'application/octet-stream' } });
        assert.equal(put.status, 201);
        const get = await request(reg.url, 'GET', `/v2/team/app/blobs/${digest}`, { headers: { ...auth, Connection: 'close' } });
        assert.equal(get.status, 200);
        await assertStillServing(reg, auth);
      } finally {
        await reg.stop();
        tmp.cleanup();
      }
    });
  });
}
