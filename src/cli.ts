#!/usr/bin/env node
import { Command } from 'commander';
import { garbageCollect } from './cli/garbage-collect.js';
import { serve } from './cli/serve.js';
import { berthVersion } from './version.js';

export function buildProgram(): Command {
  const program = new Command();
  program
    .name('berth')
    .description('An OCI Distribution registry, drop-in compatible with CNCF Distribution')
    .version(`berth ${berthVersion()}`, '-v, --version', 'print the version and exit')
    .showHelpAfterError();

  program
    .command('serve')
    .description('run the registry (configuration: CONFIG, else $REGISTRY_CONFIGURATION_PATH, else the built-in default)')
    .argument('[CONFIG]', 'path to a Distribution-format YAML configuration file')
    .action(async (config: string | undefined) => serve(config));

  program
    .command('garbage-collect')
    .description('delete blobs no longer referenced by any manifest')
    .argument('<CONFIG>', 'path to a Distribution-format YAML configuration file')
    .option('-d, --dry-run', 'only print what would be deleted')
    .option('-m, --delete-untagged', 'also delete manifests that are not tagged')
    .option('-q, --quiet', 'print less')
    .action(async (config: string, options: { dryRun?: boolean; deleteUntagged?: boolean; quiet?: boolean }) => garbageCollect(config, options));

  return program;
}

await buildProgram().parseAsync(process.argv);
