// Real clients against an authenticated Berth (in-process, loopback, plain HTTP so the clients
// run with --tls-verify=false): skopeo login / copy with --src-creds and --dest-creds, podman
// login + push + pull, against htpasswd auth and against the built-in token issuer. Clients run
// isolated through the client-test harness (vfs storage, private auth files, own mount namespace).
import assert from 'node:assert/strict';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Workspace, requireTools } from '../clients/harness.js';
import { defaultYaml, startRegistry, type Registry } from '../helpers/registry.js';
import { basic, writeHtpasswd } from './helpers.js';

const PERMISSIONS = [
  '    permissions:',
  '      - repositories: ["**"]',
  '        users: [admin]',
  '        actions: [pull, push, delete]',
  '      - repositories: ["**"]',
  '        users: [reader]',
  '        actions: [pull]',
  '      - repositories: ["public/*"]',
  '        anonymous: true',
];

for (const mode of ['htpasswd', 'token issuer'] as const) {
  describe(`real clients against ${mode} auth`, () => {
    let ws: Workspace;
    let reg: Registry;
    let host = '';
    const hello = `hello ${mode} ${Date.now()}\n`;

    const podman = (...args: string[]) => ws.client('podman', [...ws.storageFlags, ...args]);
    const skopeo = (...args: string[]) => ws.client('skopeo', ['--policy', ws.policyFile, ...args]);
    const policy = () => ['--signature-policy', ws.policyFile];

    before(async () => {
      requireTools('podman', 'skopeo', 'tar');
      ws = new Workspace(mode === 'htpasswd' ? 'auth-h' : 'auth-t'); // podman limits the runroot path to 50 characters
      const htpasswd = ws.path('htpasswd');
      writeHtpasswd(htpasswd, { admin: 'admin-pw', reader: 'reader-pw' });
      const auth = mode === 'htpasswd'
        ? ['auth:', '  htpasswd:', '    realm: berth-clients', `    path: ${htpasswd}`, 'berth:', '  auth:']
        : ['auth:', '  token:', '    autoredirect: true', '    service: berth-clients', '    issuer: berth', 'berth:', '  auth:', '    tokenissuer:', `      htpasswd: ${htpasswd}`];
      reg = await startRegistry({ yaml: defaultYaml({ extraYaml: [...auth, ...PERMISSIONS, ''].join('\n') }) });
      host = new URL(reg.url).host;
      const rootfs = ws.path('rootfs');
      mkdirSync(join(rootfs, 'etc'), { recursive: true });
      writeFileSync(join(rootfs, 'etc/hello.txt'), hello);
      await ws.tool('tar', ['-C', rootfs, '-cf', ws.path('rootfs.tar'), '.']);
    });

    after(async () => {
      await reg?.stop();
      ws?.cleanup();
    });

    it('skopeo login refuses a wrong password and accepts the right one', async () => {
      await assert.rejects(skopeo('login', '--tls-verify=false', '--authfile', ws.authFile, '-u', 'admin', '-p', 'wrong', host), /401|unauthorized|invalid username\/password/i);
      await ws.client('skopeo', ['login', '--tls-verify=false', '--authfile', ws.authFile, '-u', 'admin', '--password-stdin', host], { input: 'admin-pw\n' });
      const file = JSON.parse(readFileSync(ws.authFile, 'utf8')) as { auths: Record<string, { auth: string }> };
      assert.equal(file.auths[host]?.auth, Buffer.from('admin:admin-pw').toString('base64'));
      await skopeo('logout', '--authfile', ws.authFile, host);
    });

    it('podman login, push and pull', async () => {
      await ws.client('podman', [...ws.storageFlags, 'login', '--tls-verify=false', '--authfile', ws.authFile, '-u', 'admin', '--password-stdin', host], { input: 'admin-pw\n' });
      await podman('import', ws.path('rootfs.tar'), 'localhost/berth-auth:latest');
      await podman('push', ...policy(), '--tls-verify=false', '--authfile', ws.authFile, 'localhost/berth-auth:latest', `docker://${host}/team/img:v1`);
      await podman('rmi', '--all', '--force');
      await podman('pull', ...policy(), '--tls-verify=false', '--authfile', ws.authFile, `${host}/team/img:v1`);
      const mnt = (await podman('image', 'mount', `${host}/team/img:v1`)).stdout.trim();
      assert.equal(readFileSync(join(mnt, 'etc/hello.txt'), 'utf8'), hello);
      await podman('image', 'unmount', `${host}/team/img:v1`);
      await podman('logout', '--authfile', ws.authFile, host);
      // Logged out: the pull is refused.
      await podman('rmi', '--all', '--force');
      await assert.rejects(podman('pull', ...policy(), '--tls-verify=false', '--authfile', ws.authFile, `${host}/team/img:v1`), /unauthorized|authentication required|401/i);
    });

    it('skopeo copy with --src-creds and --dest-creds; a pull-only user cannot push', async () => {
      await skopeo('copy', '--src-tls-verify=false', '--dest-tls-verify=false', '--src-creds', 'reader:reader-pw', '--dest-creds', 'admin:admin-pw',
        `docker://${host}/team/img:v1`, `docker://${host}/team/copy:v1`);
      const res = await reg.req('GET', '/v2/team/copy/tags/list', { headers: mode === 'htpasswd' ? { Authorization: basic('admin', 'admin-pw') } : await bearerFor(reg, 'repository:team/copy:pull') });
      assert.equal(res.status, 200);
      assert.deepEqual(res.json().tags, ['v1']);
      await assert.rejects(
        skopeo('copy', '--src-tls-verify=false', '--dest-tls-verify=false', '--src-creds', 'reader:reader-pw', '--dest-creds', 'reader:reader-pw',
          `docker://${host}/team/img:v1`, `docker://${host}/team/stolen:v1`),
        /denied|unauthorized|insufficient|403|401/i,
      );
    });

    // Without credentials, skopeo and podman answer the challenge with `Basic Og==` (an empty user
    // and password): that is an anonymous caller, who may pull public/* and nothing else.
    it('anonymous pulls of a public repository with skopeo and podman (no login, empty auth file)', async () => {
      await skopeo('copy', '--src-tls-verify=false', '--dest-tls-verify=false', '--src-creds', 'admin:admin-pw', '--dest-creds', 'admin:admin-pw',
        `docker://${host}/team/img:v1`, `docker://${host}/public/img:v1`);
      writeFileSync(ws.authFile, '{"auths":{}}\n');
      const out = ws.path('anon-layout');
      await skopeo('copy', '--src-tls-verify=false', '--authfile', ws.authFile, `docker://${host}/public/img:v1`, `oci:${out}:v1`);
      const index = JSON.parse(readFileSync(join(out, 'index.json'), 'utf8')) as { manifests: unknown[] };
      assert.equal(index.manifests.length, 1);
      const inspected = JSON.parse((await skopeo('inspect', '--tls-verify=false', '--authfile', ws.authFile, `docker://${host}/public/img:v1`)).stdout) as { Digest: string };
      assert.match(inspected.Digest, /^sha256:/);
      await podman('rmi', '--all', '--force');
      await podman('pull', ...policy(), '--tls-verify=false', '--authfile', ws.authFile, `${host}/public/img:v1`);
      const mnt = (await podman('image', 'mount', `${host}/public/img:v1`)).stdout.trim();
      assert.equal(readFileSync(join(mnt, 'etc/hello.txt'), 'utf8'), hello);
      await podman('image', 'unmount', `${host}/public/img:v1`);
      // anonymous is pull-only, and only where a rule says so
      await assert.rejects(podman('pull', ...policy(), '--tls-verify=false', '--authfile', ws.authFile, `${host}/team/img:v1`), /unauthorized|authentication required|denied|401|403/i);
      await assert.rejects(
        skopeo('copy', '--src-tls-verify=false', '--dest-tls-verify=false', '--authfile', ws.authFile, `oci:${out}:v1`, `docker://${host}/public/pushed:v1`),
        /unauthorized|authentication required|denied|insufficient|401|403/i,
      );
    });
  });
}

async function bearerFor(reg: Registry, scope: string): Promise<Record<string, string>> {
  const res = await reg.req('GET', `/auth/token?service=berth-clients&scope=${encodeURIComponent(scope)}`, { headers: { Authorization: basic('admin', 'admin-pw') } });
  return { Authorization: `Bearer ${res.json().token}` };
}
