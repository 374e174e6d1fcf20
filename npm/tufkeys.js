#!/usr/bin/env node
// Starts the tufkeys binary of this platform, which npm installed as one
// of this package's optional dependencies (one package per platform, with
// os and cpu set). Exit status and signals pass through; when no binary
// fits, it says so and exits 1: tufkeys never answers without running.
'use strict';
const { spawn } = require('child_process');
const path = require('path');

const packages = require('./platforms.json');
const key = `${process.platform}-${process.arch}`;
const pkg = packages[key];
if (!pkg) {
  console.error(`tufkeys: no tufkeys binary is packaged for ${key}: build one with go install, or use the container image`);
  process.exit(1);
}
// The binary of this package's own platform package, looked for where npm
// installs it for this package alone: nested under this package, or hoisted
// beside it. Never through Node's module search, which would also take a
// package from an ancestor directory or NODE_PATH.
const fs = require('fs');
// this file is bin/tufkeys.js in the package
const root = path.dirname(__dirname);
const candidates = [path.join(root, 'node_modules', pkg, 'bin', 'tufkeys')];
if (path.basename(path.dirname(root)) === 'node_modules') {
  candidates.push(path.join(path.dirname(root), pkg, 'bin', 'tufkeys'));
}
const bin = candidates.find((p) => {
  try {
    return fs.statSync(p).isFile();
  } catch (err) {
    return false;
  }
});
if (!bin) {
  console.error(`tufkeys: ${pkg}, which holds the tufkeys binary for ${key}, is not installed with this package: install tufkeys again without --omit=optional`);
  process.exit(1);
}
const child = spawn(bin, process.argv.slice(2), { stdio: 'inherit' });
// an interrupt typed at a terminal reaches the child from the terminal
const fromTerminal = new Set(process.stdin.isTTY ? ['SIGINT', 'SIGQUIT'] : []);
for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP', 'SIGQUIT', 'SIGUSR1', 'SIGUSR2']) {
  process.on(sig, () => { if (!fromTerminal.has(sig)) child.kill(sig); });
}
child.on('error', (err) => {
  console.error(`tufkeys: cannot run ${path.basename(bin)}: ${err.message}`);
  process.exit(1);
});
child.on('exit', (code, signal) => {
  if (signal) {
    process.removeAllListeners(signal);
    process.kill(process.pid, signal);
    return;
  }
  process.exit(code === null ? 1 : code);
});
