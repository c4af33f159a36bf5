/** A reference opened as a target of the library, with one client for the whole command. */
import type { AuthClient } from '../../client/auth/client.js';
import { OciLayout } from '../../client/layout/oci-layout.js';
import { createClient, Registry } from '../../client/remote/registry.js';
import type { Repository } from '../../client/remote/repository.js';
import type { RemoteReference, Reference } from '../../oci/reference.js';
import { clientOptions, type ClientFlags } from './options.js';

export class Session {
  readonly client: AuthClient;

  constructor(flags: ClientFlags) {
    this.client = createClient(clientOptions(flags));
  }

  registry(host: string): Registry {
    return new Registry(host, { client: this.client });
  }

  repository(ref: RemoteReference): Repository {
    return this.registry(ref.host).repository(ref.repository);
  }

  target(ref: Reference): Repository | OciLayout {
    return ref.kind === 'layout' ? new OciLayout(ref.path) : this.repository(ref);
  }

  close(): void {
    this.client.transport.close();
  }
}

/** Runs `fn` with a session that is closed afterwards, whatever happens. */
export async function withSession<T>(flags: ClientFlags, fn: (s: Session) => Promise<T>): Promise<T> {
  const s = new Session(flags);
  try {
    return await fn(s);
  } finally {
    s.close();
  }
}
