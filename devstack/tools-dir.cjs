'use strict';
// Where provisioned tools live (Node 24, the Temporal CLI, FerretDB). Plain
// CommonJS so that devstack/bootstrap.cjs (which runs on any Node) and the
// TypeScript dev stack share one answer.

const os = require('node:os');
const path = require('node:path');

/**
 * `$CREDITFLOW_TOOLS_DIR`, else a per-user cache outside the clone
 * (`$XDG_CACHE_HOME/creditflow/tools`, by default `~/.cache/creditflow/tools`).
 * Every tool sits in a folder named after its exact version, so a second
 * clone or a CI run on the same machine reuses it and a bump provisions anew.
 */
function toolsDir(env = process.env) {
  if (env.CREDITFLOW_TOOLS_DIR) return path.resolve(env.CREDITFLOW_TOOLS_DIR);
  const cacheHome = env.XDG_CACHE_HOME ? path.resolve(env.XDG_CACHE_HOME) : path.join(os.homedir(), '.cache');
  return path.join(cacheHome, 'creditflow', 'tools');
}

module.exports = { toolsDir };
