// Every read and write verb of the `berth` client against a real registry (Berth in-process,
// Distribution 2.8.2 where its answers differ), with the exact JSON each prints: the field names
// docs/cli.md documents. Exit codes: 0, 1 for a registry's refusal (naming the registry, the
// reference and the spec code), 2 for bad usage.
import assert from 'node:assert/strict';
import { lookup } from 'node:dns/promises';
import { readFileSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Registry } from '../../src/client/remote/registry.js';
import { MediaTypes } from '../../src/oci/descriptor.js';
import { digestOf } from '../../src/oci/digest.js';
import { isLoopbackHost } from '../../src/oci/reference.js';
import { artifact, content, image, index, pushAll, startTestRegistry, type TestRegistry } from '../client/fixtures.js';
import { CliHome, berth, berthOk } from './berth.js';

const home = new CliHome();
const env = home.env();
after(() => home.cleanup());
const json = (s: string) => JSON.parse(s) as Record<string, unknown>;

describe('berth client verbs against Berth', () => {
  let reg: TestRegistry;
  let host = '';
  const amd = image({ architecture: 'amd64', label: 'amd' });
  const arm = image({ architecture: 'arm64', label: 'arm' });
  const multi = index([{ image: amd, platform: { os: 'linux', architecture: 'amd64' } }, { image: arm, platform: { os: 'linux', architecture: 'arm64', variant: 'v8' } }]);
  const sbom = artifact(amd.manifest.desc, 'application/spdx+json');
  const sig = artifact(sbom.manifest.desc, 'application/vnd.example.signature');

  before(async () => {
    reg = await startTestRegistry('berth');
    host = reg.host;
    const repo = new Registry(host, { credentials: null }).repository('team/app');
    await pushAll(repo, [...amd.all, ...arm.all]);
    await repo.pushManifest(multi.data, { mediaType: MediaTypes.ociIndex, tag: 'multi' });
    await repo.pushManifest(amd.manifest.data, { mediaType: MediaTypes.ociManifest, tag: 'v1' });
    await pushAll(repo, [...sbom.all, ...sig.all]);
    await pushAll(new Registry(host, { credentials: null }).repository('team/other'), amd.all);
    await pushAll(new Registry(host, { credentials: null }).repository('solo'), amd.all);
  });
  after(() => reg?.stop());

  it('ls lists every repository, or those under a prefix; JSON names registry and repositories', async () => {
    assert.deepEqual((await berthOk(['ls', host], { env })).stdout.split('\n').filter(Boolean), ['solo', 'team/app', 'team/other']);
    const r = await berthOk(['ls', `${host}/team`, '--format', 'json'], { env });
    assert.deepEqual(json(r.stdout), { registry: host, prefix: 'team', repositories: ['team/app', 'team/other'] });
  });

  it('tags lists a repository\'s tags; a plain REPO means --registry or BERTH_REGISTRY', async () => {
    assert.deepEqual(json((await berthOk(['tags', `${host}/team/app`, '--format', 'json'], { env })).stdout), { repository: `${host}/team/app`, tags: ['multi', 'v1'] });
    assert.equal((await berthOk(['tags', 'team/app', '--registry', host], { env })).stdout, 'multi\nv1\n');
    assert.equal((await berthOk(['tags', 'team/app'], { env: { ...env, BERTH_REGISTRY: host } })).stdout, 'multi\nv1\n');
  });

  it('inspect shows an image: digest, type, size, platform, created, labels, config and layers (JSON)', async () => {
    const r = await berthOk(['inspect', `${host}/team/app:v1`, '--format', 'json'], { env });
    const layer = (c: { desc: { digest: { value: string }; mediaType: string; size: number } }) => ({ digest: c.desc.digest.value, mediaType: c.desc.mediaType, size: c.desc.size });
    assert.deepEqual(json(r.stdout), {
      reference: `${host}/team/app:v1`,
      digest: amd.manifest.desc.digest.value,
      mediaType: MediaTypes.ociManifest,
      size: amd.manifest.desc.size,
      config: layer(amd.config),
      layers: amd.layers.map(layer),
      contentSize: amd.config.desc.size + amd.layers.reduce((n, l) => n + l.desc.size, 0),
      platform: 'linux/amd64',
      labels: { l: 'amd' },
    });
    const text = (await berthOk(['inspect', `${host}/team/app:v1`], { env })).stdout;
    assert.match(text, new RegExp(`Digest: +${amd.manifest.desc.digest.value}`));
    assert.match(text, /Platform: +linux\/amd64/);
    assert.match(text, /Label l: +amd/);
    assert.match(text, new RegExp(`layer +${amd.layers[0]!.desc.digest.value} +application/vnd.oci.image.layer.v1.tar\\+gzip +1.0 KiB`));
    assert.equal((await berthOk(['inspect', '-q', `${host}/team/app:v1`], { env })).stdout, `${amd.manifest.desc.digest.value}\n`);
  });

  it('inspect shows an index\'s platforms; --raw and --config print the stored bytes', async () => {
    const r = json((await berthOk(['inspect', `${host}/team/app:multi`, '--format', 'json'], { env })).stdout);
    assert.deepEqual(r, {
      reference: `${host}/team/app:multi`,
      digest: multi.desc.digest.value,
      mediaType: MediaTypes.ociIndex,
      size: multi.desc.size,
      manifests: [
        { digest: amd.manifest.desc.digest.value, mediaType: MediaTypes.ociManifest, size: amd.manifest.desc.size, platform: 'linux/amd64' },
        { digest: arm.manifest.desc.digest.value, mediaType: MediaTypes.ociManifest, size: arm.manifest.desc.size, platform: 'linux/arm64/v8' },
      ],
    });
    assert.match((await berthOk(['inspect', `${host}/team/app:multi`], { env })).stdout, /linux\/arm64\/v8 +sha256:/);
    assert.equal((await berthOk(['inspect', '--raw', `${host}/team/app:multi`], { env })).stdout, multi.data.toString());
    assert.equal((await berthOk(['inspect', '--config', `${host}/team/app@${arm.manifest.desc.digest.value}`], { env })).stdout, arm.config.data.toString());
  });

  it('digest prints the manifest digest (JSON: reference, digest, mediaType, size)', async () => {
    assert.equal((await berthOk(['digest', `${host}/team/app:multi`], { env })).stdout, `${multi.desc.digest.value}\n`);
    assert.deepEqual(json((await berthOk(['digest', `${host}/team/app:v1`, '--format', 'json'], { env })).stdout), {
      reference: `${host}/team/app:v1`, digest: amd.manifest.desc.digest.value, mediaType: MediaTypes.ociManifest, size: amd.manifest.desc.size,
    });
  });

  it('tag adds tags; delete by tag removes only the tag; --digest deletes the manifest', async () => {
    const r = await berthOk(['tag', `${host}/team/other@${amd.manifest.desc.digest.value}`, 'a', 'b'], { env });
    assert.equal(r.stdout, `${host}/team/other:a: ${amd.manifest.desc.digest.value}\n${host}/team/other:b: ${amd.manifest.desc.digest.value}\n`);
    assert.equal((await berthOk(['tags', `${host}/team/other`], { env })).stdout, 'a\nb\n');
    assert.equal((await berthOk(['delete', `${host}/team/other:a`], { env })).stdout, `deleted tag ${host}/team/other:a\n`);
    assert.equal((await berthOk(['tags', `${host}/team/other`], { env })).stdout, 'b\n');
    assert.equal((await berthOk(['digest', `${host}/team/other@${amd.manifest.desc.digest.value}`], { env })).stdout, `${amd.manifest.desc.digest.value}\n`);
    assert.equal((await berthOk(['delete', '--digest', `${host}/team/other:b`], { env })).stdout, `deleted ${host}/team/other@${amd.manifest.desc.digest.value}\n`);
    const gone = await berth(['digest', `${host}/team/other@${amd.manifest.desc.digest.value}`], { env });
    assert.equal(gone.code, 1);
    assert.equal(gone.stderr, `berth: digest ${host}/team/other@${amd.manifest.desc.digest.value}: manifest_unknown: ${host}/team/other:${amd.manifest.desc.digest.value} not found (${host}, HEAD /v2/team/other/manifests/${amd.manifest.desc.digest.value} 404)\n`);
  });

  it('referrers draws the tree of artifacts (JSON nests referrers; --artifact-type filters the first level)', async () => {
    const text = (await berthOk(['referrers', `${host}/team/app:v1`], { env })).stdout;
    assert.equal(text, [
      `${host}/team/app@${amd.manifest.desc.digest.value}`,
      `└── application/spdx+json  ${sbom.manifest.desc.digest.value}  ${sbom.manifest.desc.size} B`,
      `    └── application/vnd.example.signature  ${sig.manifest.desc.digest.value}  ${sig.manifest.desc.size} B`,
      '',
    ].join('\n'));
    const r = json((await berthOk(['referrers', `${host}/team/app:v1`, '--format', 'json'], { env })).stdout);
    const node = (a: typeof sbom, kids: unknown[]) => ({
      digest: a.manifest.desc.digest.value, mediaType: MediaTypes.ociManifest, size: a.manifest.desc.size,
      artifactType: JSON.parse(a.manifest.data.toString()).artifactType, annotations: JSON.parse(a.manifest.data.toString()).annotations, referrers: kids,
    });
    assert.deepEqual(r, {
      reference: `${host}/team/app:v1`, digest: amd.manifest.desc.digest.value, mediaType: MediaTypes.ociManifest, size: amd.manifest.desc.size,
      referrers: [node(sbom, [node(sig, [])])],
    });
    assert.equal((await berthOk(['referrers', '-q', `${host}/team/app:v1`], { env })).stdout, `${sbom.manifest.desc.digest.value}\n${sig.manifest.desc.digest.value}\n`);
    assert.equal((await berthOk(['referrers', '-q', '--artifact-type', 'application/vnd.other', `${host}/team/app:v1`], { env })).stdout, '');
  });

  it('attach pushes an artifact whose subject is REF; referrers finds it', async () => {
    const file = path.join(home.dir, 'sbom.json');
    writeFileSync(file, '{"spdxVersion":"SPDX-2.3"}');
    const r = json((await berthOk(['attach', `${host}/solo@${amd.manifest.desc.digest.value}`, '--artifact-type', 'application/spdx+json', `${file}:application/spdx+json`, '--annotation', 'org.example.k=v', '--format', 'json'], { env })).stdout);
    assert.equal(r.subject, `${host}/solo@${amd.manifest.desc.digest.value}`);
    assert.equal(r.reference, `${host}/solo@${r.digest as string}`);
    assert.equal(r.mediaType, MediaTypes.ociManifest);
    assert.equal(r.artifactType, 'application/spdx+json');
    const raw = JSON.parse((await berthOk(['inspect', '--raw', r.reference as string], { env })).stdout);
    assert.equal(raw.subject.digest, amd.manifest.desc.digest.value);
    assert.equal(raw.config.mediaType, MediaTypes.ociEmpty);
    assert.deepEqual(raw.layers.map((l: { mediaType: string; digest: string; annotations: Record<string, string> }) => [l.mediaType, l.digest, l.annotations['org.opencontainers.image.title']]),
      [['application/spdx+json', digestOf(readFileSync(file)).value, 'sbom.json']]);
    assert.equal(raw.annotations['org.example.k'], 'v');
    assert.equal((await berthOk(['referrers', '-q', `${host}/solo@${amd.manifest.desc.digest.value}`], { env })).stdout, `${r.digest as string}\n`);
  });

  it('blob put uploads a file (its digest on stdout); blob get downloads it, verified, to a file or stdout', async () => {
    const file = path.join(home.dir, 'blob.bin');
    const data = Buffer.from('berth blob '.repeat(5000));
    writeFileSync(file, data);
    const d = digestOf(data).value;
    const put = await berthOk(['blob', 'put', `${host}/blobs/x`, file], { env });
    assert.equal(put.stdout, `${d}\n`);
    assert.match(put.stderr, new RegExp(`^copied  ${d.slice(0, 19)} blob.bin  53.7 KiB\n$`));
    assert.deepEqual(json((await berthOk(['blob', 'put', `${host}/blobs/x`, file, '--format', 'json'], { env })).stdout), {
      reference: `${host}/blobs/x@${d}`, digest: d, size: data.length, mediaType: 'application/octet-stream', existed: true,
    });
    const out = path.join(home.dir, 'out.bin');
    await berthOk(['blob', 'get', `${host}/blobs/x@${d}`, '-o', out, '-q'], { env });
    assert.deepEqual(readFileSync(out), data);
    assert.equal((await berthOk(['blob', 'get', `${host}/blobs/x@${d}`, '-q'], { env })).stdout, data.toString());
    const missing = await berth(['blob', 'get', `${host}/blobs/x@sha256:${'0'.repeat(64)}`, '-o', out], { env });
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /^berth: blob get .*: blob_unknown: blob sha256:0+ not found in blobs\/x \(127\.0\.0\.1:\d+, HEAD \/v2\/blobs\/x\/blobs\/sha256:0+ 404\)\n$/);
    assert.deepEqual(readFileSync(out), data, 'a failed download leaves the file as it was');
  });

  it('bad usage exits 2 with one line; help exits 0', async () => {
    for (const args of [['inspect', 'nohost:v1'], ['copy', 'a'], ['copy', `${host}/a:v1`, `${host}/b`, '--jobs', '0'], ['inspect', `${host}/team/app`], ['frobnicate'],
      ['copy', `${host}/a:v1`, `${host}/b`, '--all', '--platform', 'linux/amd64'], ['copy', `${host}/a:v1`, `${host}/b`, '--platform', 'linux']]) {
      const r = await berth(args, { env });
      assert.equal(r.code, 2, `${args.join(' ')}: ${r.stderr}`);
      assert.notEqual(r.stderr, '');
    }
    assert.match((await berth(['inspect', 'nohost:v1'], { env })).stderr, /^berth: inspect nohost:v1: invalid reference "nohost:v1": no registry host/);
    const help = await berth(['copy', '--help'], { env });
    assert.equal(help.code, 0);
    assert.match(help.stdout, /^Usage: berth copy \[options\] <SRC> <DST>\n/);
    assert.match(help.stdout, /\nExamples:\n {2}berth copy --all /);
    assert.match((await berth(['--help'], { env })).stdout, /\nExit codes: 0 success, 1 a registry, network or file error, 2 bad usage, 130 interrupted\.\n/);
    const unknown = await berth(['tags', '--frob', `${host}/team/app`], { env });
    assert.equal(unknown.code, 2);
    assert.equal(unknown.stderr, "berth: tags: unknown option '--frob'\n(berth tags --help shows the usage)\n");
  });

  it('plain http goes to loopback hosts only: a registry named by this machine\'s host name is asked over https, and over http with --plain-http', async () => {
    const name = os.hostname();
    assert.equal(isLoopbackHost(name), false, `the host name ${name} counts as loopback by itself; the test needs one that does not`);
    // The registry under that name: a TCP relay on the address the name resolves to, in front of
    // Berth's loopback port, noting how each connection opens (0x16: a TLS handshake).
    const { address } = await lookup(name);
    const berthPort = Number(host.split(':')[1]);
    const opened: string[] = [];
    const openedAll = (how: string): boolean => opened.length > 0 && opened.every((o) => o === how);
    const relay = net.createServer((c) => {
      const up = net.connect(berthPort, '127.0.0.1');
      c.once('data', (d: Buffer) => opened.push(d[0] === 0x16 ? 'tls' : d.toString('latin1', 0, 4)));
      c.pipe(up).pipe(c);
      c.on('error', () => up.destroy());
      up.on('error', () => c.destroy());
    });
    await new Promise<void>((resolve) => relay.listen(0, address, resolve));
    const named = `${name}:${(relay.address() as net.AddressInfo).port}`;
    try {
      const refused = await berth(['tags', `${named}/team/app`], { env });
      assert.equal(refused.code, 1);
      assert.equal(refused.stderr, `berth: tags ${named}/team/app: eproto: the registry does not answer in TLS; if it speaks plain http, --plain-http talks http to it (${named}, GET https://${named}/v2/team/app/tags/list)\n`);
      assert.ok(openedAll('tls'), `without --plain-http every connection opened with TLS (${opened.join(', ')})`);
      opened.length = 0;
      assert.equal((await berthOk(['tags', `${named}/team/app`, '--plain-http'], { env })).stdout, 'multi\nv1\n');
      assert.ok(openedAll('GET '), `with --plain-http plain requests (${opened.join(', ')})`);
    } finally {
      await new Promise((resolve) => relay.close(resolve));
    }
  });
});

describe('berth client verbs against Distribution 2.8.2', () => {
  let reg: TestRegistry;
  const img = image();
  before(async () => {
    reg = await startTestRegistry('distribution');
    const repo = new Registry(reg.host, { credentials: null }).repository('dist/app');
    await pushAll(repo, img.all.slice(0, -1));
    await repo.pushManifest(img.manifest.data, { mediaType: MediaTypes.ociManifest, tag: 'v1' });
  });
  after(() => reg?.stop());

  it('a registry that does not delete tags: exit 1 with its code, and a hint about --digest', async () => {
    const r = await berth(['delete', `${reg.host}/dist/app:v1`], { env });
    assert.equal(r.code, 1);
    assert.match(r.stderr, /does not delete a tag alone; --digest deletes the manifest/);
    assert.match(r.stderr, new RegExp(`berth: delete ${reg.host}/dist/app:v1: digest_invalid: .*\\(${reg.host}, DELETE http://${reg.host}/v2/dist/app/manifests/v1 400\\)\\n$`));
    await berthOk(['delete', '--digest', `${reg.host}/dist/app:v1`], { env });
    assert.equal((await berth(['digest', `${reg.host}/dist/app:v1`], { env })).code, 1);
  });

  it('attach and referrers work through the fallback tag', async () => {
    await pushAll(new Registry(reg.host, { credentials: null }).repository('dist/app'), [content('x')]);
    const file = path.join(home.dir, 'sig.txt');
    writeFileSync(file, 'signed');
    const subject = `${reg.host}/dist/app@${img.manifest.desc.digest.value}`;
    await pushAll(new Registry(reg.host, { credentials: null }).repository('dist/app'), [img.manifest]);
    const digest = (await berthOk(['attach', '-q', subject, '--artifact-type', 'application/vnd.example.sig', file], { env })).stdout.trim();
    assert.equal((await berthOk(['referrers', '-q', subject], { env })).stdout, `${digest}\n`);
  });
});
