import { RegistryError } from './errors.js';

// The spec's grammar for repository names and tags. Checked before any storage path is built:
// nothing that fails here can name a path outside the repositories tree.
const COMPONENT = '[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*';
const NAME = new RegExp(`^${COMPONENT}(?:/${COMPONENT})*$`);
const TAG = /^[a-zA-Z0-9_][a-zA-Z0-9._-]{0,127}$/;

/** Distribution's limit on a repository name (the spec leaves it to registries). */
export const MAX_NAME_LENGTH = 255;

export function isValidName(name: string): boolean {
  return name.length <= MAX_NAME_LENGTH && NAME.test(name); // the grammar needs one character at least
}

export function checkName(name: string): string {
  if (!isValidName(name)) throw new RegistryError('NAME_INVALID', 'invalid repository name', { name });
  return name;
}

export function isValidTag(tag: string): boolean {
  return TAG.test(tag);
}
