import path from 'node:path';

/** The repository root: devstack/ sits directly under it. */
export const REPO_DIR = path.resolve(__dirname, '..');

// eslint-disable-next-line @typescript-eslint/no-require-imports -- plain CommonJS shared with bootstrap.cjs
const toolsDirModule = require('./tools-dir.cjs') as { toolsDir: (env?: NodeJS.ProcessEnv) => string };

/**
 * Where provisioned tools live (Node 24, the Temporal CLI, FerretDB):
 * `$CREDITFLOW_TOOLS_DIR`, else the per-user cache `~/.cache/creditflow/tools`
 * (or under `$XDG_CACHE_HOME`), shared by every clone on the machine.
 */
export const toolsDir: (env?: NodeJS.ProcessEnv) => string = toolsDirModule.toolsDir;

/**
 * Where the dev stack keeps its state between runs (store, Temporal history,
 * mail, the dev admin key): `$CREDITFLOW_DATA_DIR`, else `<repo>/.data`.
 */
export function dataDir(env: NodeJS.ProcessEnv = process.env): string {
  const fromEnv = env.CREDITFLOW_DATA_DIR;
  return fromEnv ? path.resolve(fromEnv) : path.join(REPO_DIR, '.data');
}
