/**
 * Which registry the HTTP suite talks to. Default: Berth, in-process. With
 * BERTH_TEST_TARGET=distribution the same tests run against Debian's build of CNCF Distribution
 * 2.8.2 (/usr/bin/docker-registry), so the tests themselves can be checked against a known
 * implementation.
 */
export type Target = 'berth' | 'distribution';

export const target: Target = process.env.BERTH_TEST_TARGET === 'distribution' ? 'distribution' : 'berth';

export const DISTRIBUTION_BINARY = process.env.BERTH_DISTRIBUTION_BINARY ?? '/usr/bin/docker-registry';

/**
 * Places where Distribution 2.8.2 is known to differ from what the OCI Distribution spec v1.1 (or
 * Berth's documented choice) requires. Each entry names the behaviour and says why. A test tagged
 * with one of these keys still runs against Berth; only in distribution-target mode is it skipped,
 * with the reason shown in the test report. Nothing is ever skipped in the default run.
 */
export const distributionDeviations = {
  sha512: 'Distribution 2.8.2 accepts sha512 blobs but not a manifest PUT or GET by a sha512 digest reference',
  referrers: 'Distribution 2.8.2 predates distribution-spec 1.1 and has no /v2/<name>/referrers/<digest> endpoint',
  ociSubject: 'Distribution 2.8.2 does not answer a manifest PUT carrying `subject` with the OCI-Subject header',
  outOfOrderChunk416: 'Distribution 2.8.2 accepts (202) a PATCH whose Content-Range does not start at the current offset; the spec requires 416',
  malformedDigest500: 'Distribution 2.8.2 answers a malformed digest in a manifest reference (sha256:xyz, md5:…) with 500, treating it as a tag path',
  tagOrderAndN: 'Distribution 2.8.2 returns tags in directory order (not sorted), applies last/n over that order, and does not validate n',
  monolithicPost: 'Distribution 2.8.2 ignores ?digest= on POST and opens a session (202) instead of completing a single-POST upload (201)',
  mountWithoutFrom: 'Distribution 2.8.2 ignores mount= without from= and opens a session (202); Berth mounts the blob (201) when it knows it',
  manifestSize413: 'Distribution 2.8.2 answers an oversized (8 MiB) manifest with 400 instead of the 413 the spec recommends',
  uploadInvalid404: 'Distribution 2.8.2 answers BLOB_UPLOAD_INVALID (a missing or bad _state) with status 404; Berth with 400, as its one error table has it',
  staleUploadLocation: 'Distribution 2.8.2 answers a GET, PATCH, PUT or DELETE whose signed _state offset is not the upload\'s size with 404 BLOB_UPLOAD_INVALID (the upload is kept, and only its newest Location continues it); Berth answers a PATCH or PUT 416 with the current Range and a fresh Location, a GET 204, and keeps the upload so the client can resume',
  chunkLengthCheck: 'Distribution 2.8.2 accepts a PATCH whose Content-Range length disagrees with the body; Berth refuses it',
  unsatisfiableRangeFraming: 'Distribution 2.8.2 answers an unsatisfiable blob Range with 416 but a Content-Length of the whole blob and a short body, so the connection breaks',
  acceptNegotiation: 'Distribution 2.8.2 answers 404 for an OCI manifest fetched with an Accept header that excludes OCI types; Berth returns the stored bytes with their type',
  emptyTagList: 'Distribution 2.8.2 answers 404 NAME_UNKNOWN for tags/list of a repository that has manifests but no tags; the spec wants 200 with an empty list',
  tagDelete: 'Distribution 2.8.2 does not implement DELETE by tag (answers 400 DIGEST_INVALID); Berth deletes the tag',
  schemaVersion500: 'Distribution 2.8.2 answers 500 UNKNOWN for an OCI manifest with a schemaVersion other than 2',
  nameValidation: 'Distribution 2.8.2 lets Go\'s router redirect (301) paths with empty or dot segments, accepts some upper-case names (Up/per), and answers 500 for names of 256+ characters',
  tagValidation: 'Distribution 2.8.2 routes only tags matching its grammar: a PUT to a tag outside it answers 404 with a plain-text body instead of 400 TAG_INVALID',
  methodNotAllowedBody: 'Distribution 2.8.2 answers a method a route does not take with 405 and a plain-text body instead of an UNSUPPORTED error envelope',
  readonlyBody: 'Distribution 2.8.2 answers writes in read-only mode with 405 and a plain-text body instead of an UNSUPPORTED error envelope',
  urlValidation500: 'Distribution 2.8.2 answers 500 UNKNOWN (with MANIFEST_BLOB_UNKNOWN among the errors) for a layer URL refused by validation.manifests.urls',
  contentRangeFormat: 'Distribution 2.8.2 accepts Content-Range values that the spec grammar ^[0-9]+-[0-9]+$ rejects',
  invalidReference404: 'Distribution 2.8.2 answers a manifest URL whose reference is neither a tag nor a digest with its router\'s plain-text "404 page not found" (no MANIFEST_UNKNOWN envelope), a PUT there too',
  urlsWithoutAllow: 'Distribution 2.8.2 refuses every manifest naming layer URLs unless validation.manifests.urls.allow is set (as its docs say); Berth accepts non-distributable and foreign layers by default, as the image spec asks of registries',
  catalogMaxEntries400: 'Distribution 2.8.2 (and v3) answers an n above catalog.maxentries with 400 PAGINATION_NUMBER_INVALID; Berth returns a page of maxentries names and a Link to the next, as the spec lets a registry return fewer than n',
  indexValidation: 'Distribution 2.8.2 has no validation.manifests.indexes (a v3 setting): every child of an index must exist',
  catalogPagination: 'Distribution 2.8.2 does not validate n on /v2/_catalog (a non-numeric n is not answered with PAGINATION_NUMBER_INVALID)',
} as const;

export type Deviation = keyof typeof distributionDeviations;

/**
 * Test options for a case Distribution 2.8.2 is known to get wrong: runs always against Berth.
 * BERTH_TEST_RUN_DEVIATIONS=1 runs them against Distribution too, to confirm each deviation is real.
 */
export function deviation(key: Deviation): { skip: string | false } {
  const skip = target === 'distribution' && process.env.BERTH_TEST_RUN_DEVIATIONS !== '1';
  return { skip: skip ? `known Distribution 2.8.2 deviation (${key}): ${distributionDeviations[key]}` : false };
}

/**
 * True when the assertion tied to `key` should be left out (distribution target only), for the
 * rare test where only one assertion of several is a known deviation.
 */
export function deviates(key: Deviation): boolean {
  return deviation(key).skip !== false;
}
