// Distribution's storage layout, path by path (docs: "Storage driver" layout of Distribution 2.x),
// and reading a path back into what it names (src/storage/changes.ts applies changes by it).
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseDigest } from '../../src/oci/digest.js';
import * as p from '../../src/storage/paths.js';

const V2 = '/docker/registry/v2';
const HEX = 'ab'.repeat(32);
const D = parseDigest(`sha256:${HEX}`);
const D512 = parseDigest(`sha512:${'cd'.repeat(64)}`);

describe('storage paths', () => {
  it('builds every path of the layout as Distribution does', () => {
    assert.equal(p.ROOT, V2);
    assert.equal(p.BLOBS_ROOT, `${V2}/blobs`);
    assert.equal(p.REPOSITORIES_ROOT, `${V2}/repositories`);
    assert.equal(p.blobDir(D), `${V2}/blobs/sha256/ab/${HEX}`);
    assert.equal(p.blobDataPath(D), `${V2}/blobs/sha256/ab/${HEX}/data`);
    assert.equal(p.blobDataPath(D512), `${V2}/blobs/sha512/cd/${'cd'.repeat(64)}/data`);
    const repo = `${V2}/repositories/team/app`;
    assert.equal(p.repositoryPath('team/app'), repo);
    assert.equal(p.layersDir('team/app'), `${repo}/_layers`);
    assert.equal(p.layerLinkPath('team/app', D), `${repo}/_layers/sha256/${HEX}/link`);
    assert.equal(p.manifestsDir('team/app'), `${repo}/_manifests`);
    assert.equal(p.revisionsDir('team/app'), `${repo}/_manifests/revisions`);
    assert.equal(p.revisionDir('team/app', D), `${repo}/_manifests/revisions/sha256/${HEX}`);
    assert.equal(p.revisionLinkPath('team/app', D), `${repo}/_manifests/revisions/sha256/${HEX}/link`);
    assert.equal(p.tagsDir('team/app'), `${repo}/_manifests/tags`);
    assert.equal(p.tagDir('team/app', 'v1'), `${repo}/_manifests/tags/v1`);
    assert.equal(p.tagCurrentLinkPath('team/app', 'v1'), `${repo}/_manifests/tags/v1/current/link`);
    assert.equal(p.tagIndexLinkPath('team/app', 'v1', D), `${repo}/_manifests/tags/v1/index/sha256/${HEX}/link`);
    assert.equal(p.uploadsDir('team/app'), `${repo}/_uploads`);
    assert.equal(p.uploadDir('team/app', 'u1'), `${repo}/_uploads/u1`);
    assert.equal(p.uploadDataPath('team/app', 'u1'), `${repo}/_uploads/u1/data`);
    assert.equal(p.uploadStartedAtPath('team/app', 'u1'), `${repo}/_uploads/u1/startedat`);
    assert.equal(p.uploadHashStatesDir('team/app', 'u1'), `${repo}/_uploads/u1/hashstates`);
  });

  it('keeps Berth\'s own files under _berth, apart from blobs/ and repositories/', () => {
    assert.equal(p.BERTH_ROOT, `${V2}/_berth`);
    assert.equal(p.CATALOG_SNAPSHOT, `${V2}/_berth/catalog.json`);
    assert.equal(p.SAVED_TAGS_ROOT, `${V2}/_berth/tags`);
    assert.equal(p.savedTagsPath('team/app'), `${V2}/_berth/tags/team/app/_tags.json`);
    assert.equal(p.savedTagsOwner(p.savedTagsPath('team/app')), 'team/app');
    assert.equal(p.savedTagsOwner(p.savedTagsPath('a')), 'a');
    for (const other of [`${V2}/_berth/tags/_tags.json`, `${V2}/_berth/tags//_tags.json`, `${V2}/_berth/tags/a/other.json`, `${V2}/_berth/tagsx/a/_tags.json`, `${V2}/repositories/a/_tags.json`, p.CATALOG_SNAPSHOT]) {
      assert.equal(p.savedTagsOwner(other), undefined, other);
    }
  });

  it('splits a path below repositories/ at the repository\'s own folder', () => {
    assert.deepEqual(p.repositoryFolderOf(`${V2}/repositories/team/app/_layers/sha256/${HEX}/link`), { name: 'team/app', folder: '_layers', rest: ['sha256', HEX, 'link'] });
    assert.deepEqual(p.repositoryFolderOf(`${V2}/repositories/a/_uploads`), { name: 'a', folder: '_uploads', rest: [] });
    assert.equal(p.repositoryFolderOf(`${V2}/repositories/team/app`), undefined, 'a repository directory itself');
    assert.equal(p.repositoryFolderOf(`${V2}/repositories/_layers/x`), undefined, 'no name before the folder');
    assert.equal(p.repositoryFolderOf(`${V2}/blobs/sha256/ab/${HEX}/data`), undefined);
    assert.equal(p.repositoryFolderOf(`${V2}/repositoriesx/a/_layers`), undefined);
  });

  it('reads back what a path names', () => {
    const repo = `${V2}/repositories/team/app`;
    const cases: Array<[string, p.LayoutPath]> = [
      [`${V2}/repositories`, { kind: 'all-repositories' }],
      [V2, { kind: 'all-repositories' }],
      ['/docker', { kind: 'all-repositories' }],
      [`${V2}/blobs/sha256/ab/${HEX}/data`, { kind: 'blob', digest: `sha256:${HEX}` }],
      [`${V2}/blobs/sha256/ab/${HEX}`, { kind: 'blob', digest: `sha256:${HEX}` }],
      [`${V2}/blobs/sha256/ab`, { kind: 'other' }],
      [`${V2}/blobs/sha256`, { kind: 'other' }],
      [`${V2}/_berth/catalog.json`, { kind: 'other' }],
      [`${V2}/blobsx/a/b/c`, { kind: 'other' }],
      [`${repo}/_layers/sha256/${HEX}/link`, { kind: 'layer-link', name: 'team/app', digest: `sha256:${HEX}` }],
      [`${repo}/_layers/sha256/${HEX}`, { kind: 'layer-link', name: 'team/app', digest: `sha256:${HEX}` }],
      [`${repo}/_layers/sha256`, { kind: 'layer-links', name: 'team/app' }],
      [`${repo}/_layers`, { kind: 'layer-links', name: 'team/app' }],
      [`${repo}/_uploads/u1/data`, { kind: 'uploads', name: 'team/app' }],
      [`${repo}/_other/x`, { kind: 'other' }],
      [`${repo}/_other`, { kind: 'other' }],
      [`${repo}/_manifests`, { kind: 'manifests', name: 'team/app' }],
      [`${repo}/_manifests/revisions/sha256/${HEX}/link`, { kind: 'revision', name: 'team/app', digest: `sha256:${HEX}` }],
      [`${repo}/_manifests/revisions/sha256`, { kind: 'revisions', name: 'team/app' }],
      [`${repo}/_manifests/revisions`, { kind: 'revisions', name: 'team/app' }],
      [`${repo}/_manifests/other`, { kind: 'other' }],
      [`${repo}/_manifests/tags`, { kind: 'tags', name: 'team/app' }],
      [`${repo}/_manifests/tags/v1`, { kind: 'tag', name: 'team/app', tag: 'v1', part: 'whole' }],
      [`${repo}/_manifests/tags/v1/current/link`, { kind: 'tag', name: 'team/app', tag: 'v1', part: 'current' }],
      [`${repo}/_manifests/tags/v1/index/sha256/${HEX}/link`, { kind: 'tag', name: 'team/app', tag: 'v1', part: 'index' }],
      [`${repo}/_manifests/tags/v1/other`, { kind: 'other' }],
      [repo, { kind: 'names', prefix: 'team/app' }],
      [`${V2}/repositories/team`, { kind: 'names', prefix: 'team' }],
    ];
    for (const [path, want] of cases) assert.deepEqual(p.layoutPathOf(path), want, path);
  });
});
