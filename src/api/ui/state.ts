import type { Auth } from '../../auth/index.js';
import type { Config } from '../../config/types.js';
import type { Registry } from '../../storage/registry.js';
import type { Context } from '../context.js';
import { Refresher } from './refresh.js';
import { PushedTimes, RepositorySizes } from './repository.js';
import { Summaries } from './summaries.js';

/** What the UI's endpoints keep for the life of the server: summaries per digest, sizes per repository, push times per tag, reads behind answers, the access controller. */
export class UiState {
  readonly summaries: Summaries;
  readonly sizes: RepositorySizes;
  /** Reads of stale values behind the pages that answered them. */
  readonly refresher = new Refresher();
  readonly pushed = new PushedTimes(this.refresher);

  constructor(
    readonly config: Config,
    registry: Registry,
    readonly auth: Auth | undefined,
  ) {
    this.summaries = new Summaries(registry.blobs);
    this.sizes = new RepositorySizes(registry.modes.caching);
    registry.changes.follow((changes) => this.sizes.changed(changes));
  }

  /** Deletes are on, the registry is writable, and the caller may delete in `name` (asked of the same access controller as a DELETE). */
  async canDelete(ctx: Context, name: string): Promise<boolean> {
    if (!this.deletable) return false;
    if (!this.auth) return true;
    try {
      await this.auth.controller.authorize(ctx.req, [{ type: 'repository', name, action: 'delete' }]);
      return true;
    } catch {
      return false;
    }
  }

  get deletable(): boolean {
    return this.config.storage.delete.enabled && !this.config.storage.maintenance.readonly.enabled;
  }
}
