import { RegistryError } from '../oci/errors.js';
import type { Context } from './context.js';

/** storage.maintenance.readonly: writes answer 405 UNSUPPORTED, as Distribution does. */
export function requireWritable(ctx: Context): void {
  if (ctx.config.storage.maintenance.readonly.enabled) {
    throw new RegistryError('UNSUPPORTED', 'registry is in read-only mode');
  }
}

/** storage.delete.enabled off: deletes answer 405 UNSUPPORTED. */
export function requireDeleteEnabled(ctx: Context): void {
  if (!ctx.config.storage.delete.enabled) {
    throw new RegistryError('UNSUPPORTED', 'deletes are disabled (storage.delete.enabled)');
  }
}
