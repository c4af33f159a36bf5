// Stryker's TypeScript checker (and its tsconfig rewriting) call TypeScript's compiler API, which
// TypeScript 7 (the project's compiler, a native build) no longer offers: imports of 'typescript'
// from Stryker's packages get TypeScript 5.9 (the typescript-5 alias) instead. Registered in the
// mutate script's process and, through checkerNodeArgs, in the checker's workers.
import { register } from 'node:module';
import { isMainThread } from 'node:worker_threads';

// Imported by a process, this module registers itself; in the loader's thread it is the hook.
if (isMainThread) register('./mutate-typescript.mjs', import.meta.url);

export async function resolve(specifier, context, next) {
  if (specifier === 'typescript' && context.parentURL?.includes('/node_modules/@stryker-mutator/')) {
    return next('typescript-5', context);
  }
  return next(specifier, context);
}
