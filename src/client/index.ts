/**
 * berth/client: an OCI registry client. Targets (a registry repository over HTTP, an OCI image
 * layout directory, memory) share small interfaces; copy() moves a manifest graph between any
 * two of them. Everything here is built on src/oci/ (the grammar the server shares) and Node's
 * standard library: nothing of the server.
 */
export { Registry, createClient, type ClientOptions, type RegistryRequest } from './remote/registry.js';
export { Repository } from './remote/repository.js';
export type { UploadContent, UploadOptions } from './remote/blobs.js';
export { MAX_MANIFEST_BYTES } from './remote/manifests.js';
export { AuthClient, mergeScopes, type AuthRequest, type TokenEvent } from './auth/client.js';
export { parseChallenges, type Challenge } from './auth/challenge.js';
export {
  authFileStore, chainStores, defaultAuthFiles, defaultCredentialStore, staticCredentials, type Credential, type CredentialStore,
} from './auth/credentials.js';
export { CredentialHelperError, runHelper } from './auth/helper.js';
export { Transport, type TlsOptions, type TransportOptions } from './http/transport.js';
export type { RetryOptions } from './http/retry.js';
export {
  ClientError, ContentNotFoundError, DeniedError, DigestMismatchError, NetworkError, NotFoundError, ProtocolError, RequestError, ServerError,
  TooManyRequestsError, UnauthorizedError, UnsupportedError, type ErrorBodyEntry, type RequestInfo,
} from './errors.js';
export type {
  Fetcher, Mounter, Options, Pusher, ReadOnlyStorage, ReferencePusher, ReferrerLister, Resolver, Storage, TagLister, Tagger, Target,
} from './content/storage.js';
// The shared grammar, re-exported so that a client program needs one import.
export { formatReference, isLoopbackHost, parseReference, ReferenceError, type LayoutReference, type Reference, type RemoteReference } from '../oci/reference.js';
export { formatPlatform, parsePlatform, platformMatches, type Platform } from '../oci/platform.js';
export { MediaTypes, descriptorJson, type Descriptor } from '../oci/descriptor.js';
export { digestOf, parseDigest, Digester, type Digest } from '../oci/digest.js';
export { isIndexMediaType, isManifestMediaType, manifestMediaTypes, referrersTag, successors } from '../oci/graph.js';
export { copy, type CopyOptions, type CopyResult, type Endpoint } from './copy/copy.js';
export { copyGraph, type CopyHooks, type CopyProgress, type CopyStats, type GraphCopyOptions } from './copy/graph.js';
export { OciLayout } from './layout/oci-layout.js';
export { MemoryStore } from './memory.js';
export { login, logout, type LoginOptions } from './login.js';
export { dockerConfigFile, removeCredentials, saveCredentials, type LoginFileOptions, type SavedCredentials } from './auth/login.js';
export { eraseWithHelper, storeWithHelper } from './auth/helper.js';
export { inspect, fetchConfigBytes, fetchManifestBytes, type BlobSummary, type ManifestSummary } from './inspect.js';
export { referrerTree, type ReferrerNode, type ReferrerTreeOptions } from './referrer-tree.js';
export { describeFile, pushArtifact, ANNOTATION_CREATED, ANNOTATION_TITLE, type ArtifactFile, type ArtifactOptions } from './artifact.js';
