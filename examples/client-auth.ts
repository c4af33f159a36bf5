// Credentials: from the files docker and podman write (here a Docker config.json in a directory
// named by DOCKER_CONFIG), or given in code. Refusals are typed errors naming the registry, the
// request and the spec's error code.
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startRegistry } from 'berth';
import { Registry, UnauthorizedError, defaultCredentialStore } from 'berth/client';

const dir = await mkdtemp(join(tmpdir(), 'berth-client-auth-'));
// One user, alice, password s3cret (bcrypt, as `htpasswd -B` writes it).
await writeFile(join(dir, 'htpasswd'), 'alice:$2b$05$aQfj/2hvA44zWymGZ4G0Mee0.CoBfgIpFyLz9YXksgRkxb07on8gy\n');
const server = await startRegistry({ config: { auth: { htpasswd: { realm: 'example', path: join(dir, 'htpasswd') } } } });
try {
  const host = `127.0.0.1:${server.port}`;
  const auth = Buffer.from('alice:s3cret').toString('base64');
  await writeFile(join(dir, 'config.json'), JSON.stringify({ auths: { [host]: { auth } } }));

  // The default store reads $REGISTRY_AUTH_FILE or $XDG_RUNTIME_DIR/containers/auth.json,
  // ~/.config/containers/auth.json, then $DOCKER_CONFIG/config.json or ~/.docker/config.json,
  // with credHelpers and credsStore (docker-credential-<name>).
  const credentials = defaultCredentialStore({ ...process.env, DOCKER_CONFIG: dir, REGISTRY_AUTH_FILE: join(dir, 'none.json') });
  const repo = new Registry(host, { credentials }).repository('team/app');
  const blob = await repo.uploadBlob(Buffer.from('private'));
  assert.equal(await repo.statBlob(blob.digest), blob.size);

  const wrong = new Registry(host, { credentials: { username: 'alice', password: 'guess' } }).repository('team/app');
  try {
    await wrong.statBlob(blob.digest);
    assert.fail('a wrong password must be refused');
  } catch (err) {
    assert.ok(err instanceof UnauthorizedError);
    console.log(err.message); // 127.0.0.1:PORT: HEAD http://127.0.0.1:PORT/v2/team/app/blobs/sha256:…: 401 UNAUTHORIZED: …
  }
} finally {
  await server.close();
  await rm(dir, { recursive: true, force: true });
}
