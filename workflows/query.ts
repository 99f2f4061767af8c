// The query engine of task conditions (`when`), in a module of its own so
// that each workflow thread evaluates it once and shares it between runs
// (WORKFLOW_BUNDLER_OPTIONS in engine/worker.ts preloads this file). mingo
// itself declares no side effects, so a preload of mingo by name would be
// dropped from the bundle as unused.
export { Query } from 'mingo';
