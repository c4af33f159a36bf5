import { isValidName } from '../oci/names.js';
import type { Route } from '../api/router.js';
import type { Access } from './types.js';

/**
 * The access each route needs: the one table the access controllers are asked about.
 *
 * | route                               | needs                                   |
 * | ----------------------------------- | --------------------------------------- |
 * | GET /v2/                            | nothing (authenticated only)            |
 * | GET /v2/_catalog                    | registry:catalog:*                      |
 * | tags, referrers, GET/HEAD manifests and blobs | repository:NAME:pull          |
 * | PUT manifests, uploads (any method) | repository:NAME:pull,push               |
 * | POST uploads ?mount=&from=SRC       | also repository:SRC:pull                |
 * | DELETE manifests and blobs          | repository:NAME:delete                  |
 * | GET /v2/_berth/repositories         | registry:catalog:* (lists what the caller may pull) |
 * | GET /v2/_berth/repositories/NAME, images, referrers | repository:NAME:pull        |
 * | DELETE /v2/_berth/repositories/NAME | repository:NAME:delete                  |
 * | GET /v2/_berth/session              | nothing: its handler asks the controller who the caller is |
 *
 * A method a route does not support needs what a write needs (pull, push), so that an
 * unauthenticated caller learns nothing about a route before authenticating; DELETE always
 * needs delete.
 */
export function accessFor(route: Route, method: string, query: URLSearchParams): Access[] {
  switch (route.kind) {
    case 'base':
      return [];
    case 'catalog':
    case 'repositories':
      return [{ type: 'registry', name: 'catalog', action: '*' }];
    case 'session':
      return [];
    case 'tags':
    case 'referrers':
    case 'image':
    case 'referrer-tree':
      return isRead(method) ? pull(route.name) : pushPull(route.name);
    case 'manifest':
    case 'blob':
      if (isRead(method)) return pull(route.name);
      if (method === 'DELETE') return [repo(route.name, 'delete')];
      return pushPull(route.name);
    case 'uploads': {
      const needed = pushPull(route.name);
      const from = query.get('from');
      if (query.get('mount') !== null && from !== null && isValidName(from) && from !== route.name) needed.push(repo(from, 'pull'));
      return needed;
    }
    case 'upload':
      return pushPull(route.name);
    case 'repository':
      if (isRead(method)) return pull(route.name);
      return method === 'DELETE' ? [repo(route.name, 'delete')] : pushPull(route.name);
  }
}

function isRead(method: string): boolean {
  return method === 'GET' || method === 'HEAD';
}

function repo(name: string, action: string): Access {
  return { type: 'repository', name, action };
}

function pull(name: string): Access[] {
  return [repo(name, 'pull')];
}

function pushPull(name: string): Access[] {
  return [repo(name, 'pull'), repo(name, 'push')];
}
