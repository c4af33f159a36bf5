/**
 * A registry over HTTP: the base URL for a host, authenticated requests that turn refusals into
 * typed errors, `/v2/` and the catalog. Repositories (repository.ts) do the rest.
 */
import type { ErrorCode } from '../../oci/errors.js';
import { checkName } from '../../oci/names.js';
import { AuthClient, type TokenEvent } from '../auth/client.js';
import { defaultCredentialStore, staticCredentials, type Credential, type CredentialStore } from '../auth/credentials.js';
import { responseError } from '../errors.js';
import { readText, Transport, type HttpResponse, type RequestBody, type TransportOptions } from '../http/transport.js';
import { paginate } from './paginate.js';
import { Repository } from './repository.js';

export interface ClientOptions extends TransportOptions {
  /**
   * Where credentials come from: a store, or one credential for every host. Default: the Docker
   * and containers auth files (auth/credentials.ts). `null`: anonymous only.
   */
  credentials?: CredentialStore | Credential | null;
  /** Called each time a token is fetched (logging, tests). */
  onToken?: (e: TokenEvent) => void;
  /** The clock for token lifetimes (default Date.now; tests move it). */
  now?: () => number;
  /** Share connections and tokens with other registries made from the same client. */
  client?: AuthClient;
}

/** Connections, retries and auth state for any number of registries. */
export function createClient(o: ClientOptions = {}): AuthClient {
  if (o.client) return o.client;
  const store = o.credentials === null ? undefined
    : o.credentials === undefined ? defaultCredentialStore()
    : 'get' in o.credentials ? o.credentials : staticCredentials(o.credentials);
  return new AuthClient(new Transport(o), store, o.onToken, o.now);
}

export interface RegistryRequest {
  method: string;
  /** A path under the registry (`/v2/...`) or an absolute URL (an upload location). */
  path: string | URL;
  scopes?: string[];
  repository?: string;
  headers?: Record<string, string>;
  body?: RequestBody;
  signal?: AbortSignal;
  /** Statuses that are success here; any other becomes a typed error. */
  expect: number[];
  /** The code a 404 without a body means here (BLOB_UNKNOWN, MANIFEST_UNKNOWN, …). */
  notFound?: ErrorCode;
  /** Send once, whatever happens (chunks resumed from the server's Range instead). */
  noRetry?: boolean;
}

export class Registry {
  readonly host: string;
  readonly client: AuthClient;
  readonly base: string;

  constructor(host: string, o: ClientOptions = {}) {
    this.host = host;
    this.client = createClient(o);
    this.base = this.client.transport.baseUrl(host);
  }

  url(path: string | URL): URL {
    return path instanceof URL ? path : new URL(path, this.base);
  }

  async request(r: RegistryRequest): Promise<HttpResponse> {
    const res = await this.client.send({
      method: r.method,
      url: this.url(r.path),
      headers: r.headers,
      body: r.body,
      signal: r.signal,
      scopes: r.scopes,
      repository: r.repository,
      noRetry: r.noRetry,
    });
    if (r.expect.includes(res.status)) return res;
    throw responseError(res.info, res.status, r.method === 'HEAD' ? '' : await readText(res).catch(() => ''), r.notFound);
  }

  /** `GET /v2/`: the registry answers and the credentials (if any are asked for) are good. */
  async ping(opts: { signal?: AbortSignal } = {}): Promise<void> {
    const res = await this.request({ method: 'GET', path: '/v2/', expect: [200], signal: opts.signal });
    res.body.resume();
  }

  /** Every repository name, following `Link` from page to page. */
  catalog(opts: { pageSize?: number; last?: string; signal?: AbortSignal } = {}): AsyncIterable<string> {
    return paginate(this, '/v2/_catalog', 'repositories', { ...opts, scopes: ['registry:catalog:*'] });
  }

  /** Closes idle connections (of the client, which other registries may share). */
  close(): void {
    this.client.transport.close();
  }

  repository(name: string): Repository {
    return new Repository(this, checkName(name));
  }
}
