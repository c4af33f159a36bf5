import { RegistryError } from '../oci/errors.js';
import { isValidName } from '../oci/names.js';
import type { Access } from './types.js';

/**
 * Scopes as the token spec writes them: `type[(class)]:name:action[,action…]`, e.g.
 * `repository:team/app:pull,push` or `registry:catalog:*`. Several scopes in one challenge or
 * one `scope` query parameter are separated by spaces.
 */
export interface Scope {
  type: string;
  name: string;
  actions: string[];
}

const TYPE = /^[a-z0-9]+(?:\([a-z0-9]+\))?$/;
const ACTION = /^[a-z*]+$/;
const MAX_SCOPE_LENGTH = 1024;

/**
 * Parses one scope. The name sits between the first and the last colon (a name could in
 * principle hold a colon). Repository names must satisfy the name grammar, so a scope can never
 * name a path outside the repositories (`../x`, `a/../../b` are refused with NAME_INVALID).
 */
export function parseScope(text: string): Scope {
  if (text.length > MAX_SCOPE_LENGTH) throw new RegistryError('NAME_INVALID', 'scope too long', { scope: text.slice(0, 64) });
  const first = text.indexOf(':');
  const last = text.lastIndexOf(':');
  if (first <= 0 || last === first) throw new RegistryError('NAME_INVALID', 'malformed scope (expected type:name:actions)', { scope: text });
  const typeWithClass = text.slice(0, first);
  const name = text.slice(first + 1, last);
  const actions = text.slice(last + 1).split(',').filter((a) => a !== '');
  if (!TYPE.test(typeWithClass)) throw new RegistryError('NAME_INVALID', 'malformed scope type', { scope: text });
  if (actions.some((a) => !ACTION.test(a))) throw new RegistryError('NAME_INVALID', 'malformed scope actions', { scope: text });
  const type = typeWithClass.replace(/\(.*\)$/, '');
  if (type === 'repository' && !isValidName(name)) throw new RegistryError('NAME_INVALID', 'invalid repository name in scope', { scope: text });
  if (type === 'registry' && name !== 'catalog') throw new RegistryError('NAME_INVALID', 'unknown registry resource in scope', { scope: text });
  return { type, name, actions: [...new Set(actions)] };
}

/** Every scope in a list of `scope` values, each of which may hold several separated by spaces. */
export function parseScopes(values: readonly string[]): Scope[] {
  const scopes: Scope[] = [];
  for (const value of values) for (const part of value.split(' ')) if (part !== '') scopes.push(parseScope(part));
  return scopes;
}

export function formatScope(scope: Scope): string {
  return `${scope.type}:${scope.name}:${scope.actions.join(',')}`;
}

/** Groups needed access items by resource, in first-seen order: the challenge's `scope` value. */
export function toScopes(needed: readonly Access[]): Scope[] {
  const byResource = new Map<string, Scope>();
  for (const a of needed) {
    const key = `${a.type}:${a.name}`;
    let scope = byResource.get(key);
    if (!scope) byResource.set(key, (scope = { type: a.type, name: a.name, actions: [] }));
    if (!scope.actions.includes(a.action)) scope.actions.push(a.action);
  }
  return [...byResource.values()];
}

/** The set of actions granted per resource; `*` grants every action on its resource. */
export class AccessSet {
  private readonly map = new Map<string, Set<string>>();

  constructor(scopes: Iterable<Scope> = []) {
    for (const s of scopes) this.add(s.type, s.name, s.actions);
  }

  add(type: string, name: string, actions: Iterable<string>): void {
    const key = `${type}:${name}`;
    let set = this.map.get(key);
    if (!set) this.map.set(key, (set = new Set()));
    for (const a of actions) set.add(a);
  }

  allows(access: Access): boolean {
    const set = this.map.get(`${access.type}:${access.name}`);
    return set !== undefined && (set.has(access.action) || set.has('*'));
  }
}
