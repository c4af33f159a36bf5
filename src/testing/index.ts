/**
 * `import … from 'berth/testing'`: the storage driver suite every Berth driver passes, for a
 * plugin author to run against theirs (docs/extending.md). It uses node:assert, and node:test
 * unless another runner is passed.
 */
export { runDriverSuite, readAll, type DriverSetup, type DriverFeatures, type DriverSuiteOptions, type TestRunner } from './driver-suite.js';
