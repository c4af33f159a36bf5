export interface GarbageCollectOptions {
  dryRun?: boolean;
  deleteUntagged?: boolean;
  quiet?: boolean;
}

/** `berth garbage-collect CONFIG`: placeholder until the garbage collector lands. */
export async function garbageCollect(_config: string, _options: GarbageCollectOptions): Promise<void> {
  process.stderr.write('berth: garbage-collect is not implemented yet\n');
  process.exit(2);
}
