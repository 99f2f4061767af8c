import path from 'node:path';

/** The repository root: devstack/ sits directly under it. */
export const REPO_DIR = path.resolve(__dirname, '..');

/**
 * Where provisioned tools live (Node 24, the Temporal CLI, FerretDB):
 * `$CREDITFLOW_TOOLS_DIR`, else `<repo>/.tools`, which git ignores. CI can
 * point it at a cache that outlives the checkout.
 */
export function toolsDir(env: NodeJS.ProcessEnv = process.env): string {
  const fromEnv = env.CREDITFLOW_TOOLS_DIR;
  return fromEnv ? path.resolve(fromEnv) : path.join(REPO_DIR, '.tools');
}

/**
 * Where the dev stack keeps its state between runs (store, Temporal history,
 * mail, the dev admin key): `$CREDITFLOW_DATA_DIR`, else `<repo>/.data`.
 */
export function dataDir(env: NodeJS.ProcessEnv = process.env): string {
  const fromEnv = env.CREDITFLOW_DATA_DIR;
  return fromEnv ? path.resolve(fromEnv) : path.join(REPO_DIR, '.data');
}
