import type { IncomingMessage } from 'node:http';

/**
 * One unit of access a request needs, in the token spec's terms: a resource (type and name)
 * and one action on it. `repository:team/app:push` is { type: 'repository', name: 'team/app', action: 'push' }.
 */
export interface Access {
  readonly type: string;
  readonly name: string;
  readonly action: string;
}

/** Who a request was let in as. */
export interface Grant {
  /** The authenticated user; undefined for an anonymous request let in by policy. */
  readonly user: string | undefined;
  /**
   * Which repositories this caller may see in the catalog (those it may pull); undefined shows
   * every repository, as Distribution does.
   */
  readonly visible?: (name: string) => boolean;
}

/**
 * Decides whether a request may have the access it needs. `authorize` resolves with the grant,
 * or throws a RegistryError: UNAUTHORIZED (401, with the WWW-Authenticate challenge) when the
 * caller must (re)authenticate, DENIED (403) when an authenticated caller is not allowed, or
 * TOOMANYREQUESTS (429) after too many failed logins. It never throws anything else for bad input.
 *
 * `needed` empty means "authenticated only" (GET /v2/).
 */
export interface AccessController {
  readonly kind: string;
  authorize(req: IncomingMessage, needed: readonly Access[]): Promise<Grant>;
  close?(): void;
}

/** Actions on repositories, as scopes and the permission rules name them. */
export const REPOSITORY_ACTIONS = ['pull', 'push', 'delete'] as const;
export type RepositoryAction = (typeof REPOSITORY_ACTIONS)[number];
