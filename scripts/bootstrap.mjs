#!/usr/bin/env node
// Makes `npm run demo`, `npm start` and `npm test` work on a fresh clone: installs npm dependencies when they are
// missing or older than the lock file, with --servers nats-server and redis-server when they are not on PATH, and
// with --test-tools what the test suite needs besides (scripts/install-test-tools.sh), with --bench-tools natscli.
// Uses only Node built-ins, because it runs before dependencies exist.
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const say = (line) => process.stderr.write(`bootstrap: ${line}\n`);
const run = (cmd, args) => {
  const r = spawnSync(cmd, args, { cwd: root, stdio: 'inherit' });
  if (r.status !== 0) {
    say(`"${cmd} ${args.join(' ')}" failed (exit ${r.status})`);
    process.exit(r.status ?? 1);
  }
};

// kvflow needs Node.js >= 22.12 (package.json engines; 24 LTS is the target). On an older node this explains how to
// get one and exits 1; it does not re-execute anything under .kvflow/node/bin/node: npm runs every command of a
// script (`node scripts/bootstrap.mjs ... && biome ... && tsc ... && vitest run`) with the node first on PATH, and
// this process can neither change its parent's PATH nor skip the commands after it without failing the script.
// So the user puts a new enough node first on PATH (scripts/install-node.sh installs one) and runs the command again.
const MIN = [22, 12];
const atLeastMin = (version) => {
  const [major, minor] = version.replace(/^v/, '').split('.').map(Number);
  return major > MIN[0] || (major === MIN[0] && minor >= MIN[1]);
};
if (!atLeastMin(process.versions.node)) {
  const event = process.env.npm_lifecycle_event;
  let again = 'the command';
  if (event) again = ['test', 'start'].includes(event) ? `npm ${event}` : `npm run ${event}`;
  const localBin = join(root, '.kvflow/node/bin');
  const local = spawnSync(join(localBin, 'node'), ['--version'], { encoding: 'utf8' });
  const localVersion = local.status === 0 ? local.stdout.trim() : undefined;
  say(
    `kvflow needs Node.js 22.12 or newer (24 LTS recommended), but this is Node.js ${process.versions.node} (${process.execPath}).`,
  );
  const haveLocal = localVersion && atLeastMin(localVersion);
  say(
    haveLocal
      ? `Node.js ${localVersion} is already installed in .kvflow/node: put it first on PATH:`
      : 'Install Node.js 24 into .kvflow/node (Linux x64) and put it first on PATH:',
  );
  if (!haveLocal) say(`  bash ${join(root, 'scripts/install-node.sh')}`);
  say(`  export PATH="${localBin}:$PATH"`);
  say(
    haveLocal
      ? `then run ${again} again.`
      : `then run ${again} again. Or install Node.js 24 LTS any other way (https://nodejs.org, nvm, fnm, mise).`,
  );
  process.exit(1);
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

if (process.argv.includes('--servers')) {
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
      ['-c', 'command -v prometheus && command -v helm && command -v helm-unittest && command -v helmfile'],
      { stdio: 'ignore' },
    );
    return false;
  } catch {
    return true;
  }
};
if (process.argv.includes('--test-tools') && testToolsMissing()) {
  say('test tools missing: running scripts/install-test-tools.sh');
  run('bash', [join(root, 'scripts/install-test-tools.sh')]);
}

// `npm run bench` compares kvflow with `nats bench` (natscli); the install script checks the pinned version.
if (process.argv.includes('--bench-tools')) run('bash', [join(root, 'scripts/install-bench-tools.sh')]);
