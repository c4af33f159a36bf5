import type { Auth } from '../../auth/index.js';
import type { Config } from '../../config/types.js';
import { RegistryError } from '../../oci/errors.js';
import type { Registry } from '../../storage/registry.js';
import type { Context } from '../context.js';
import type { Route } from '../router.js';
import { Assets } from './assets.js';
import { imagePage } from './image.js';
import { referrerTree } from './referrers.js';
import { repositoriesPage } from './repositories.js';
import { repositoryPage } from './repository.js';
import { session } from './session.js';
import { UiState } from './state.js';

export { withoutBrowserPrompt } from './session.js';

/** Routes answered here: Berth's JSON endpoints for the UI and scripts (docs/ui.md). */
export type UiRoute = Extract<Route, { kind: 'session' | 'repositories' | 'repository' | 'image' | 'referrer-tree' }>;

/**
 * The web UI (docs/ui.md): the page and its files at `/` (unless `berth.ui.enabled` is false),
 * and the JSON endpoints under /v2/_berth/ it reads, which go through the router and the access
 * check like every other route.
 */
export class Ui {
  private readonly state: UiState;
  private readonly assets: Assets | undefined;

  constructor(
    private readonly config: Config,
    registry: Registry,
    auth: Auth | undefined,
  ) {
    this.state = new UiState(config, registry, auth);
    this.assets = config.ui?.enabled === false ? undefined : new Assets(config);
  }

  /** Serves the page or one of its files for a path no API route matched; false when it is neither. */
  page(ctx: Context, path: string): boolean {
    if (!this.assets) return false;
    const prefix = this.config.http.prefix;
    if (path === '/' && prefix && (ctx.req.url ?? '').split('?')[0] === prefix) {
      // The page's links are relative: it must be loaded from "<prefix>/".
      ctx.res.writeHead(308, { Location: `${prefix}/`, 'Content-Length': 0 });
      ctx.res.end();
      return true;
    }
    return this.assets.serve(ctx, path);
  }

  /** `visible`: which repositories the caller may list (from the access controller's grant). */
  handle(ctx: Context, route: UiRoute, visible?: (name: string) => boolean): Promise<void> {
    if (ctx.method !== 'GET' && ctx.method !== 'HEAD') throw new RegistryError('UNSUPPORTED', 'method not allowed', undefined, { headers: { Allow: route.kind === 'repository' ? 'GET, DELETE' : 'GET' } });
    switch (route.kind) {
      case 'session':
        return session(ctx, this.state);
      case 'repositories':
        return repositoriesPage(ctx, visible);
      case 'repository':
        return repositoryPage(ctx, this.state, route.name);
      case 'image':
        return imagePage(ctx, this.state, route.name, route.reference);
      case 'referrer-tree':
        return referrerTree(ctx, this.state, route.name, route.digest);
    }
  }
}
