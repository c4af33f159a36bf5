/**
 * `berth delete REF [--digest]`: by tag, removes only that tag where the registry allows it
 * (distribution-spec 1.1; Berth does, Distribution 2.8.2 refuses); with --digest,
 * or a reference by digest, deletes the manifest (and with it every tag that points at it).
 */
import { Command } from 'commander';
import { ClientError, UnsupportedError } from '../client/errors.js';
import { formatReference } from '../oci/reference.js';
import { runVerb } from './common/errors.js';
import { addClientOptions, addOutputOptions, remoteRef, versionOf, type ClientFlags, type OutputFlags } from './common/options.js';
import { withSession } from './common/targets.js';

export function deleteCommand(): Command {
  return addOutputOptions(addClientOptions(new Command('delete')), false)
    .description('delete a tag, or (--digest, or a reference by digest) the manifest itself')
    .argument('<REF>', 'HOST[:PORT]/REPO:TAG|@DIGEST')
    .option('--digest', 'delete the manifest the tag names, with every tag pointing at it')
    .action(async (text: string, flags: ClientFlags & OutputFlags & { digest?: boolean }) =>
      runVerb(`delete ${text}`, async (signal) => {
        const ref = remoteRef(text, flags, 'delete');
        versionOf(ref, text);
        await withSession(flags, async (s) => {
          const repo = s.repository(ref);
          if (ref.digest || flags.digest) {
            const digest = ref.digest ?? (await repo.resolve(ref.tag!, { signal })).digest;
            await repo.deleteManifest(digest, { signal });
            if (!flags.quiet) process.stdout.write(`deleted ${formatReference({ ...ref, tag: undefined, digest })}\n`);
            return;
          }
          try {
            await repo.deleteManifest(ref.tag!, { signal });
          } catch (err) {
            // Distribution 2.8.2 answers 400 DIGEST_INVALID (it reads the tag as a digest); others 405 UNSUPPORTED.
            const refused = err instanceof UnsupportedError || (err instanceof ClientError && err.status === 400 && err.code === 'DIGEST_INVALID');
            if (refused) process.stderr.write(`berth: ${ref.host} does not delete a tag alone; --digest deletes the manifest and every tag pointing at it\n`);
            throw err;
          }
          if (!flags.quiet) process.stdout.write(`deleted tag ${formatReference(ref)}\n`);
        });
      }));
}
