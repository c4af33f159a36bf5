#!/usr/bin/env node
/**
 * The `berth` command: the registry (serve, garbage-collect, retention, quota) and a client for any registry
 * (login, copy, push, pull, ls, tags, inspect, digest, tag, delete, referrers, attach, blob).
 * Each verb loads its own modules only when it runs: the server's verbs the server, a client verb
 * its part of the client library, so that no invocation pays for the others' start-up.
 * Exit codes: 0 success, 1 an error, 2 bad usage, 130 interrupted.
 */
import { Command, CommanderError } from 'commander';
import { EXIT_USAGE } from './cli/common/errors.js';
import { berthVersion } from './version.js';

/**
 * The client verbs' modules, in the order `berth --help` lists them, with the verbs each
 * defines. Only the module of the verb on the command line is loaded (with its part of the
 * client library and cli-progress); help and unknown verbs load them all.
 */
const CLIENT_MODULES: [string[], () => Promise<Command[]>][] = [
  [['login', 'logout'], async () => (await import('./cli/login.js')).loginCommands()],
  [['copy', 'push', 'pull'], async () => (await import('./cli/copy.js')).copyCommands()],
  [['ls'], async () => [(await import('./cli/list.js')).listCommand()]],
  [['tags'], async () => [(await import('./cli/tags.js')).tagsCommand()]],
  [['inspect'], async () => [(await import('./cli/inspect.js')).inspectCommand()]],
  [['digest'], async () => [(await import('./cli/digest.js')).digestCommand()]],
  [['tag'], async () => [(await import('./cli/tag.js')).tagCommand()]],
  [['delete'], async () => [(await import('./cli/delete.js')).deleteCommand()]],
  [['referrers'], async () => [(await import('./cli/referrers.js')).referrersCommand()]],
  [['attach'], async () => [(await import('./cli/attach.js')).attachCommand()]],
  [['blob'], async () => [(await import('./cli/blob.js')).blobCommand()]],
];

/** The client verbs' commands a command line whose verb is `verb` may run: that verb's, or all (no verb, help, a typo). */
async function clientCommands(verb: string | undefined): Promise<Command[]> {
  const only = CLIENT_MODULES.find(([verbs]) => verb !== undefined && verbs.includes(verb));
  return (await Promise.all((only ? [only] : CLIENT_MODULES).map(([, load]) => load()))).flat();
}

/** Shown after each client verb's --help. */
const EXAMPLES: Record<string, string[]> = {
  login: ['echo "$TOKEN" | berth login registry.example.com -u ci --password-stdin'],
  logout: ['berth logout registry.example.com'],
  copy: ['berth copy --all registry.example.com/team/app:1.4 127.0.0.1:5000/team/app:1.4', 'berth copy --platform linux/arm64 registry.example.com/library/alpine:3.20 127.0.0.1:5000/alpine:3.20'],
  push: ['berth push --all oci:./layout:1.4 127.0.0.1:5000/team/app:1.4'],
  pull: ['berth pull --all 127.0.0.1:5000/team/app:1.4 oci:./layout:1.4'],
  ls: ['berth ls 127.0.0.1:5000', 'berth ls --format json 127.0.0.1:5000/team'],
  tags: ['berth tags 127.0.0.1:5000/team/app', 'BERTH_REGISTRY=127.0.0.1:5000 berth tags team/app'],
  inspect: ['berth inspect 127.0.0.1:5000/team/app:1.4', 'berth inspect --raw 127.0.0.1:5000/team/app:1.4 | jq .'],
  digest: ['berth digest 127.0.0.1:5000/team/app:1.4'],
  tag: ['berth tag 127.0.0.1:5000/team/app:1.4 1 latest'],
  delete: ['berth delete 127.0.0.1:5000/team/app:old', 'berth delete --digest 127.0.0.1:5000/team/app:old'],
  referrers: ['berth referrers 127.0.0.1:5000/team/app:1.4', 'berth referrers -q --artifact-type application/spdx+json 127.0.0.1:5000/team/app:1.4'],
  attach: ['berth attach 127.0.0.1:5000/team/app:1.4 --artifact-type application/spdx+json sbom.json:application/spdx+json'],
  blob: ['berth blob put 127.0.0.1:5000/team/files ./report.pdf', 'berth blob get 127.0.0.1:5000/team/files@sha256:… -o report.pdf'],
};

function examples(cmd: Command): string {
  const lines = EXAMPLES[cmd.name()];
  return lines ? `\nExamples:\n${lines.map((l) => `  ${l}`).join('\n')}\n` : '';
}

/** The program for `argv` (process.argv's form): the server's verbs, and the client verbs `argv` may run. */
export async function buildProgram(argv: string[]): Promise<Command> {
  const program = new Command();
  program
    .name('berth')
    .description('An OCI Distribution registry, drop-in compatible with CNCF Distribution, and a client for any registry')
    .version(`berth ${berthVersion()}`, '-v, --version', 'print the version and exit');

  program
    .command('serve')
    .description('run the registry (configuration: CONFIG, else $REGISTRY_CONFIGURATION_PATH, else the built-in default)')
    .argument('[CONFIG]', 'path to a Distribution-format YAML configuration file')
    .action(async (config: string | undefined) => (await import('./cli/serve.js')).serve(config));

  program
    .command('garbage-collect')
    .description('delete blobs no longer referenced by any manifest')
    .argument('<CONFIG>', 'path to a Distribution-format YAML configuration file')
    .option('-d, --dry-run', 'only print what would be deleted')
    .option('-m, --delete-untagged', 'also delete manifests that are not tagged')
    .option('-q, --quiet', 'print less')
    .action(async (config: string, options: { dryRun?: boolean; deleteUntagged?: boolean; quiet?: boolean }) =>
      (await import('./cli/garbage-collect.js')).garbageCollect(config, options));

  program
    .command('retention')
    .description('apply berth.retention once: untag and delete what its policies do not keep (blobs go at the next garbage collection)')
    .argument('<CONFIG>', 'path to a Distribution-format YAML configuration file')
    .option('-d, --dry-run', 'only print what would be removed')
    .option('--json', 'print the report as JSON')
    .action(async (config: string, options: { dryRun?: boolean; json?: boolean }) => (await import('./cli/retention.js')).retention(config, options));

  program
    .command('quota')
    .description('print each berth.quotas rule with its limit and the usage stored now')
    .argument('<CONFIG>', 'path to a Distribution-format YAML configuration file')
    .option('--json', 'print JSON')
    .action(async (config: string, options: { json?: boolean }) => (await import('./cli/quota.js')).quota(config, options));

  program.addHelpText('after', `
Exit codes: 0 success, 1 a registry, network or file error, 2 bad usage, 130 interrupted.
References: HOST[:PORT]/REPO[:TAG|@DIGEST], REPO[:TAG] with --registry or $BERTH_REGISTRY, oci:DIR[:TAG].
Every verb with examples and its JSON output: docs/cli.md`);

  // A server verb needs no client verb; a client verb only its own module.
  const verb = argv.slice(2).find((a) => !a.startsWith('-'));
  const clientVerbs = program.commands.some((c) => c.name() === verb) ? [] : await clientCommands(verb);
  for (const cmd of clientVerbs) program.addCommand(cmd.addHelpText('after', examples(cmd)));

  // Bad usage exits 2 (commander's own default is 1) with one line in the form of the verbs' own
  // errors and a pointer to the verb's help; help and --version exit 0.
  const configure = (cmd: Command, path: string): void => {
    cmd.exitOverride()
      .configureOutput({ outputError: (text, write) => write(text.replace(/^error: /, `berth: ${path ? `${path}: ` : ''}`)) })
      .showHelpAfterError(`(berth ${path ? `${path} ` : ''}--help shows the usage)`);
    for (const sub of cmd.commands) configure(sub, `${path ? `${path} ` : ''}${sub.name()}`);
  };
  configure(program, '');
  return program;
}

try {
  await (await buildProgram(process.argv)).parseAsync(process.argv);
} catch (err) {
  if (!(err instanceof CommanderError)) throw err;
  process.exitCode = err.exitCode === 0 ? 0 : EXIT_USAGE;
}
