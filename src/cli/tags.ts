/** `berth tags REPO`: every tag of a repository (all pages), or of an OCI layout. */
import { Command } from 'commander';
import { formatReference } from '../oci/reference.js';
import { UsageError, runVerb } from './common/errors.js';
import { addClientOptions, addOutputOptions, parseRef, type ClientFlags, type OutputFlags } from './common/options.js';
import { printJson, printLines } from './common/output.js';
import { withSession } from './common/targets.js';

export function tagsCommand(): Command {
  return addOutputOptions(addClientOptions(new Command('tags')))
    .description('list the tags of a repository or an OCI layout')
    .argument('<REPO>', 'HOST[:PORT]/REPO, or oci:DIR')
    .action(async (text: string, flags: ClientFlags & OutputFlags) =>
      runVerb(`tags ${text}`, async (signal) => {
        const ref = parseRef(text, flags);
        if (ref.tag || ref.digest) throw new UsageError(`${text}: name the repository without a tag or digest`);
        const tags = await withSession(flags, async (s) => {
          const out: string[] = [];
          for await (const t of s.target(ref).tags({ signal })) out.push(t);
          return out;
        });
        if (flags.format === 'json') printJson({ repository: formatReference(ref), tags });
        else printLines(tags);
      }));
}
