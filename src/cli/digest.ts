/** `berth digest REF`: the digest of the manifest a tag names (a HEAD request on a registry). */
import { Command } from 'commander';
import { formatReference } from '../oci/reference.js';
import { runVerb } from './common/errors.js';
import { addClientOptions, addOutputOptions, parseRef, versionOf, type ClientFlags, type OutputFlags } from './common/options.js';
import { printJson } from './common/output.js';
import { withSession } from './common/targets.js';

export function digestCommand(): Command {
  return addOutputOptions(addClientOptions(new Command('digest')))
    .description('print the digest of the manifest a reference names')
    .argument('<REF>', 'HOST[:PORT]/REPO:TAG|@DIGEST, or oci:DIR:TAG')
    .action(async (text: string, flags: ClientFlags & OutputFlags) =>
      runVerb(`digest ${text}`, async (signal) => {
        const ref = parseRef(text, flags);
        const desc = await withSession(flags, (s) => s.target(ref).resolve(versionOf(ref, text), { signal }));
        if (flags.format === 'json') printJson({ reference: formatReference(ref), digest: desc.digest.value, mediaType: desc.mediaType, size: desc.size });
        else process.stdout.write(`${desc.digest.value}\n`);
      }));
}
