/** `berth ls HOST[/PREFIX]`: the registry's catalog, every page, optionally under a prefix. */
import { Command } from 'commander';
import { checkName } from '../oci/names.js';
import { UsageError, runVerb } from './common/errors.js';
import { addClientOptions, addOutputOptions, type ClientFlags, type OutputFlags } from './common/options.js';
import { printJson, printLines } from './common/output.js';
import { withSession } from './common/targets.js';

/** `HOST[:PORT][/PREFIX]` → host and prefix (a prefix is a repository name or the start of one). */
function parseTarget(text: string, flags: ClientFlags): { host: string; prefix: string } {
  const body = text.replace(/^docker:\/\//, '').replace(/\/+$/, '');
  const slash = body.indexOf('/');
  const host = slash < 0 ? body : body.slice(0, slash);
  const prefix = slash < 0 ? '' : body.slice(slash + 1);
  const looksLikeHost = host.includes('.') || host.includes(':') || host === 'localhost' || host.startsWith('[');
  if (!looksLikeHost) {
    if (!flags.registry) throw new UsageError(`${JSON.stringify(text)} names no registry host (write HOST[:PORT][/PREFIX], or give --registry)`);
    return parsePrefix(flags.registry, body);
  }
  return parsePrefix(host, prefix);
}

function parsePrefix(host: string, prefix: string): { host: string; prefix: string } {
  if (prefix) {
    try {
      checkName(prefix);
    } catch {
      throw new UsageError(`${JSON.stringify(prefix)} is not a repository name or prefix`);
    }
  }
  return { host, prefix };
}

export function listCommand(): Command {
  return addOutputOptions(addClientOptions(new Command('ls')))
    .description('list the repositories of a registry (all catalog pages), optionally under PREFIX')
    .argument('<HOST[/PREFIX]>', 'registry host[:port], optionally followed by /PREFIX')
    .action(async (text: string, flags: ClientFlags & OutputFlags) =>
      runVerb(`ls ${text}`, async (signal) => {
        const { host, prefix } = parseTarget(text, flags);
        const names = await withSession(flags, async (s) => {
          const out: string[] = [];
          for await (const name of s.registry(host).catalog({ signal })) {
            if (!prefix || name === prefix || name.startsWith(`${prefix}/`)) out.push(name);
          }
          return out;
        });
        if (flags.format === 'json') printJson({ registry: host, ...(prefix ? { prefix } : {}), repositories: names });
        else printLines(names);
      }));
}
