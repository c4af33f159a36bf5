// `berth login` and `berth logout` against Berth with htpasswd: the credentials are checked before
// they are saved (a wrong password changes nothing and exits 1), saved as docker writes them in
// $DOCKER_CONFIG/config.json (other keys kept, mode 0600), used by the other verbs, and removed
// again; a credential helper named by credsStore gets the secret instead of the file.
import assert from 'node:assert/strict';
import { chmodSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { writeHtpasswd } from '../auth/helpers.js';
import { startTestRegistry, type TestRegistry } from '../client/fixtures.js';
import { CliHome, berth, berthOk } from './berth.js';

const home = new CliHome();
after(() => home.cleanup());
const htpasswd = path.join(home.dir, 'htpasswd');
writeHtpasswd(htpasswd, { alice: 'alice-pw' });
const configFile = path.join(home.dockerConfig, 'config.json');
const config = () => JSON.parse(readFileSync(configFile, 'utf8')) as Record<string, any>;

describe('berth login and logout', () => {
  let reg: TestRegistry;
  let host = '';
  before(async () => {
    reg = await startTestRegistry('berth', ['auth:', '  htpasswd:', '    realm: berth-cli', `    path: ${htpasswd}`].join('\n'));
    host = reg.host;
  });
  after(() => reg?.stop());

  it('refuses wrong credentials without touching the config; saves right ones as docker does; logout removes them', async () => {
    const env = home.env();
    mkdirSync(home.dockerConfig, { recursive: true });
    writeFileSync(configFile, JSON.stringify({ auths: { 'other.example': { auth: 'b3RoZXI6eA==' } }, psFormat: 'table' }));
    const before = readFileSync(configFile, 'utf8');

    const wrong = await berth(['login', host, '-u', 'alice', '--password-stdin'], { env, input: 'nope\n' });
    assert.equal(wrong.code, 1);
    assert.match(wrong.stderr, new RegExp(`^berth: login ${host}: unauthorized: .*\\(${host}, GET `));
    assert.equal(readFileSync(configFile, 'utf8'), before);

    const denied = await berth(['tags', `${host}/any/repo`], { env });
    assert.equal(denied.code, 1);
    assert.match(denied.stderr, /unauthorized/);

    const ok = await berthOk(['login', host, '-u', 'alice', '--password-stdin'], { env, input: 'alice-pw\n' });
    assert.equal(ok.stdout, `Login Succeeded: credentials for ${host} saved in ${configFile}\n`);
    const saved = config();
    assert.equal(saved.auths[host].auth, Buffer.from('alice:alice-pw').toString('base64'));
    assert.deepEqual(saved.auths['other.example'], { auth: 'b3RoZXI6eA==' });
    assert.equal(saved.psFormat, 'table');
    assert.equal(statSync(configFile).mode & 0o777, 0o600);

    // The other verbs find the saved credentials.
    assert.equal((await berthOk(['ls', host], { env })).stdout, '');

    assert.equal((await berthOk(['logout', host], { env })).stdout, `Removed login credentials for ${host} from ${configFile}\n`);
    assert.equal(config().auths[host], undefined);
    assert.deepEqual(config().auths['other.example'], { auth: 'b3RoZXI6eA==' });
    assert.equal((await berthOk(['logout', host], { env })).stdout, `Not logged in to ${host} (${configFile})\n`);
    assert.equal((await berth(['ls', host], { env })).code, 1);
  });

  it('gives the secret to the credential helper named by credsStore, and erases it there on logout', async () => {
    const bin = path.join(home.dir, 'bin');
    mkdirSync(bin, { recursive: true });
    const store = path.join(home.dir, 'helper-store');
    const log = path.join(home.dir, 'helper.log');
    // A docker-credential helper keeping one entry in a file: store, get and erase.
    writeFileSync(path.join(bin, 'docker-credential-berthcli'), [
      '#!/bin/sh',
      `echo "$1" >> ${log}`,
      'case "$1" in',
      `  store) cat > ${store} ;;`,
      `  get) read -r server; if [ -s ${store} ]; then cat ${store}; else echo "credentials not found in native keychain"; exit 1; fi ;;`,
      `  erase) read -r server; : > ${store} ;;`,
      'esac',
      '',
    ].join('\n'));
    chmodSync(path.join(bin, 'docker-credential-berthcli'), 0o755);
    const env = home.env({ PATH: `${bin}:${process.env.PATH}` });
    writeFileSync(configFile, JSON.stringify({ credsStore: 'berthcli' }));

    const ok = await berthOk(['login', host, '-u', 'alice', '--password-stdin'], { env, input: 'alice-pw' });
    assert.equal(ok.stdout, `Login Succeeded: credentials for ${host} saved in docker-credential-berthcli (listed in ${configFile})\n`);
    assert.deepEqual(JSON.parse(readFileSync(store, 'utf8')), { ServerURL: host, Username: 'alice', Secret: 'alice-pw' });
    assert.doesNotMatch(readFileSync(configFile, 'utf8'), /alice-pw|YWxpY2U6/);
    assert.equal((await berthOk(['ls', host], { env })).code, 0);

    await berthOk(['logout', host], { env });
    assert.equal(readFileSync(store, 'utf8'), '');
    assert.deepEqual(readFileSync(log, 'utf8').split('\n').filter(Boolean).filter((l) => l !== 'get'), ['store', 'erase']);
  });

  it('bad usage exits 2: no user name without a terminal, both password options, an empty password', async () => {
    const env = home.env();
    for (const [args, input] of [[['login', host, '--password-stdin'], 'pw'], [['login', host, '-u', 'alice', '-p', 'x', '--password-stdin'], 'pw'], [['login', host, '-u', 'alice', '--password-stdin'], '\n'], [['login', host, '-u', 'alice'], '']] as const) {
      const r = await berth([...args], { env, input });
      assert.equal(r.code, 2, `${args.join(' ')}: ${r.stderr}`);
      assert.match(r.stderr, /^berth: login /);
    }
  });
});
