#!/usr/bin/env node
// Every npm script runs through this, so that each works on a fresh clone with nothing but npm typed:
//   node scripts/bootstrap.mjs [--servers] [--test-tools] [--bench-tools] [--no-install] --run '<shell command>' [args...]
// 1. On a Node.js older than package.json's engines (>= 22.12), installs the pinned Node.js 24 into .kvflow/node
//    (scripts/install-node.sh: the official build from the npm registry, checked against a pinned SHA-512) and runs
//    this same bootstrap again on it, with .kvflow/node/bin first on PATH, so that everything the script starts (npm,
//    tsc, vitest, the demo) runs on Node 24. A Node.js that is new enough is used as it is.
// 2. Installs npm dependencies when they are missing or older than the lock file; with --servers nats-server and
//    redis-server when they are not on PATH; with --test-tools what the test suite needs besides
//    (scripts/install-test-tools.sh); with --bench-tools natscli.
// 3. Runs the --run steps ('tsc -b && node demo/dist/demo.js': commands joined by &&, words split on spaces, no
//    shell) one after the other, the user's arguments (`npm run rate -- 500`) appended to the last, and exits with
//    the first failing step's code. Ctrl-C and a closed terminal reach the step from the terminal itself; a SIGTERM
//    sent to npm is passed on, so a step such as the demo always shuts down cleanly before this exits.
// Uses only Node built-ins, because it runs before dependencies exist.
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { existsSync, statSync } from 'node:fs';
import { constants } from 'node:os';
import { delimiter, dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const say = (line) => process.stderr.write(`bootstrap: ${line}\n`);
const run = (cmd, args, env = process.env) => {
  const r = spawnSync(cmd, args, { cwd: root, stdio: 'inherit', env });
  if (r.status !== 0) {
    say(`"${cmd} ${args.join(' ')}" failed (exit ${r.status ?? r.signal})`);
    process.exit(r.status ?? 1);
  }
};

// A child with the terminal; resolves to its exit code (128 + n for a signal, as a shell reports it).
function runChild(cmd, argv, env = process.env) {
  return new Promise((resolve) => {
    const child = spawn(cmd, argv, { stdio: 'inherit', env });
    const pass = () => child.kill('SIGTERM');
    const ignore = () => {};
    process.on('SIGTERM', pass).on('SIGINT', ignore).on('SIGHUP', ignore);
    child.on('error', (err) => {
      say(`cannot run ${cmd}: ${err.message}`);
      resolve(127);
    });
    child.on('exit', (code, signal) => {
      process.off('SIGTERM', pass).off('SIGINT', ignore).off('SIGHUP', ignore);
      resolve(code ?? 128 + (signal ? (constants.signals[signal] ?? 0) : 0));
    });
  });
}

const args = process.argv.slice(2);
const runAt = args.indexOf('--run');
const flags = runAt < 0 ? args : args.slice(0, runAt);
const command = runAt < 0 ? undefined : args[runAt + 1];
const userArgs = runAt < 0 ? [] : args.slice(runAt + 2);
if (runAt >= 0 && !command) {
  say('--run needs a shell command');
  process.exit(2);
}

const MIN = [22, 12];
const atLeastMin = (version) => {
  const [major, minor] = version.replace(/^v/, '').split('.').map(Number);
  return major > MIN[0] || (major === MIN[0] && minor >= MIN[1]);
};
const localBin = join(root, '.kvflow/node/bin');
if (!atLeastMin(process.versions.node)) {
  if (process.env.KVFLOW_BOOTSTRAP_REEXEC) {
    say(
      `.kvflow/node/bin/node still reports Node.js ${process.versions.node}: run bash scripts/install-node.sh --force`,
    );
    process.exit(1);
  }
  const localNode = join(localBin, 'node');
  const probe = spawnSync(localNode, ['--version'], { encoding: 'utf8' });
  let local = probe.status === 0 ? probe.stdout.trim() : undefined;
  if (!local || !atLeastMin(local)) {
    say(
      `kvflow needs Node.js 22.12 or newer, this is ${process.versions.node} (${process.execPath}): installing the`,
    );
    say('pinned Node.js 24 into .kvflow/node (once; your own Node.js is left as it is)');
    run('bash', [join(root, 'scripts/install-node.sh'), '--force']);
    local = spawnSync(localNode, ['--version'], { encoding: 'utf8' }).stdout?.trim();
  }
  say(`Node.js ${process.versions.node} is older than 22.12: running on .kvflow/node's ${local}`);
  const env = {
    ...process.env,
    PATH: `${localBin}${delimiter}${process.env.PATH ?? ''}`,
    KVFLOW_BOOTSTRAP_REEXEC: '1',
  };
  process.exit(await runChild(localNode, [fileURLToPath(import.meta.url), ...args], env));
}

const installed = join(root, 'node_modules/.package-lock.json');
if (
  !existsSync(installed) ||
  statSync(installed).mtimeMs < statSync(join(root, 'package-lock.json')).mtimeMs
) {
  // `npm install`, not `npm ci`: see .ci/run (npm/cli#4828).
  say('installing npm dependencies (npm install, from package-lock.json)');
  run('npm', ['install', '--no-audit', '--no-fund']);
}

if (flags.includes('--servers')) {
  const has = (bin) => {
    try {
      execFileSync('sh', ['-c', `command -v ${bin}`], { stdio: 'ignore' });
      return true;
    } catch {
      return false;
    }
  };
  if (!has('nats-server') || !has('redis-server')) {
    say('nats-server or redis-server missing: running scripts/install-servers.sh');
    run('bash', [join(root, 'scripts/install-servers.sh')]);
  }
}

const testToolsMissing = () => {
  if (!existsSync(process.env.CHROMIUM_PATH ?? '/usr/bin/chromium')) return true;
  try {
    execFileSync(
      'sh',
      [
        '-c',
        'command -v prometheus && command -v helm && command -v helm-unittest && command -v helmfile && command -v jaeger',
      ],
      { stdio: 'ignore' },
    );
    return false;
  } catch {
    return true;
  }
};
if (flags.includes('--test-tools') && testToolsMissing()) {
  say('test tools missing: running scripts/install-test-tools.sh');
  run('bash', [join(root, 'scripts/install-test-tools.sh')]);
}

// `npm run bench` compares kvflow with `nats bench` (natscli); the install script checks the pinned version.
if (flags.includes('--bench-tools')) run('bash', [join(root, 'scripts/install-bench-tools.sh')]);

if (command) {
  const steps = command.split('&&').map((step) => step.trim().split(/\s+/));
  for (const [i, [cmd, ...argv]] of steps.entries()) {
    const code = await runChild(cmd, i === steps.length - 1 ? [...argv, ...userArgs] : argv);
    if (code !== 0) process.exit(code);
  }
}
