/** `berth tag REF NEWTAG...`: points more tags at the manifest REF names, in the same repository or layout. */
import { Command } from 'commander';
import { isValidTag } from '../oci/names.js';
import { formatReference, isValidRefName } from '../oci/reference.js';
import { UsageError, runVerb } from './common/errors.js';
import { addClientOptions, addOutputOptions, parseRef, versionOf, type ClientFlags, type OutputFlags } from './common/options.js';
import { withSession } from './common/targets.js';

export function tagCommand(): Command {
  return addOutputOptions(addClientOptions(new Command('tag')), false)
    .description('add tags to the manifest a reference names')
    .argument('<REF>', 'HOST[:PORT]/REPO:TAG|@DIGEST, or oci:DIR:TAG')
    .argument('<NEWTAG...>', 'tags to add')
    .action(async (text: string, tags: string[], flags: ClientFlags & OutputFlags) =>
      runVerb(`tag ${text}`, async (signal) => {
        const ref = parseRef(text, flags);
        const valid = ref.kind === 'layout' ? isValidRefName : isValidTag;
        const bad = tags.filter((t) => !valid(t));
        if (bad.length) throw new UsageError(`not a valid tag: ${bad.map((t) => JSON.stringify(t)).join(', ')}`);
        await withSession(flags, async (s) => {
          const target = s.target(ref);
          const desc = await target.resolve(versionOf(ref, text), { signal });
          for (const t of tags) {
            await target.tag(desc, t, { signal });
            if (!flags.quiet) process.stdout.write(`${formatReference({ ...ref, tag: t, digest: undefined })}: ${desc.digest.value}\n`);
          }
        });
      }));
}
