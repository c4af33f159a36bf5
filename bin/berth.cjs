#!/usr/bin/env node
'use strict';
// The `berth` command. libuv runs every file operation on a thread pool of 4 threads unless told
// otherwise, and its size is fixed when the pool first starts, which for an ES-module program
// happens while its modules load. This small CommonJS entry sets it before anything else runs,
// so that storage reads and writes of many concurrent requests proceed in parallel (as
// Distribution's filesystem.maxthreads allows); UV_THREADPOOL_SIZE in the environment wins.
process.env.UV_THREADPOOL_SIZE = process.env.UV_THREADPOOL_SIZE || '16';
import('../dist/cli.js').catch((err) => {
  console.error(err);
  process.exit(1);
});
