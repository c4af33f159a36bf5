import { RegistryError } from '../oci/errors.js';
import type { Repository } from '../storage/repository.js';
import { sendEmpty, type Context } from './context.js';
import { requireDeleteEnabled, requireWritable } from './guards.js';

/**
 * `DELETE /v2/_berth/repositories/<name>` (a Berth extension, docs/gc.md): removes the
 * repository's tags, manifest revisions, blob links and uploads; the blobs are reclaimed by the
 * next garbage collection. 202 when done, 404 NAME_UNKNOWN when there was no such repository.
 */
export async function handleRepositoryDelete(ctx: Context, repo: Repository): Promise<void> {
  if (ctx.method !== 'DELETE') throw new RegistryError('UNSUPPORTED', 'method not allowed', undefined, { headers: { Allow: 'DELETE' } });
  requireWritable(ctx);
  requireDeleteEnabled(ctx);
  if (!(await repo.delete())) throw new RegistryError('NAME_UNKNOWN', undefined, { name: repo.name });
  sendEmpty(ctx, 202);
  ctx.events?.repositoryDeleted(ctx, repo.name);
}
