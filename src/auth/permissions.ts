import type { PermissionRule } from './config.js';
import type { Access } from './types.js';

/**
 * Berth's per-repository permissions (`berth.auth.permissions`). A rule names repository
 * patterns, who it applies to (users, groups, `*` for any authenticated user, or anonymous
 * callers) and the actions it allows; a caller's actions on a repository are the union of the
 * rules that match. Nothing is allowed unless a rule allows it.
 *
 * Patterns: `*` matches within one path component, `**` across components; anything else is
 * literal. `team-a/**` matches every repository under team-a/, `public/*` one level below public/.
 *
 * The catalog (`registry:catalog:*`) is open to every caller that authenticated (and to anonymous
 * callers when some rule allows anonymous pull); what it lists is filtered by `canPull`.
 */
export class Permissions {
  private readonly rules: Array<PermissionRule & { patterns: RegExp[] }>;
  private readonly groupsOf = new Map<string, Set<string>>();

  constructor(rules: readonly PermissionRule[], groups: Record<string, string[]>) {
    this.rules = rules.map((r) => ({ ...r, patterns: r.repositories.map(compilePattern) }));
    for (const [group, members] of Object.entries(groups)) {
      for (const user of members) {
        let set = this.groupsOf.get(user);
        if (!set) this.groupsOf.set(user, (set = new Set()));
        set.add(group);
      }
    }
  }

  /** Actions `user` (undefined: anonymous) may take on repository `name`. */
  actions(user: string | undefined, name: string): Set<string> {
    const allowed = new Set<string>();
    for (const rule of this.rules) {
      if (!this.applies(rule, user) || !rule.patterns.some((p) => p.test(name))) continue;
      for (const a of rule.actions) allowed.add(a);
    }
    return allowed;
  }

  allows(user: string | undefined, access: Access): boolean {
    if (access.type === 'registry' && access.name === 'catalog') return user !== undefined || this.rules.some((r) => r.anonymous);
    if (access.type !== 'repository') return false;
    const actions = this.actions(user, access.name);
    return access.action === '*' ? actions.size === 3 : actions.has(access.action);
  }

  canPull(user: string | undefined, name: string): boolean {
    return this.actions(user, name).has('pull');
  }

  private applies(rule: PermissionRule, user: string | undefined): boolean {
    if (user === undefined) return rule.anonymous;
    if (rule.anonymous) return true; // what anonymous callers may do, authenticated ones may too
    if (rule.users.includes('*') || rule.users.includes(user)) return true;
    const groups = this.groupsOf.get(user);
    return groups !== undefined && rule.groups.some((g) => groups.has(g));
  }
}

export function compilePattern(pattern: string): RegExp {
  let re = '';
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i]!;
    if (c === '*' && pattern[i + 1] === '*') {
      re += '.*';
      i++;
    } else if (c === '*') re += '[^/]*';
    else re += c.replace(/[.\\+?^${}()|[\]-]/g, '\\$&');
  }
  return new RegExp(`^${re}$`);
}
