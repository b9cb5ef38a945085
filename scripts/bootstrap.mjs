#!/usr/bin/env node
// Makes `npm run demo`, `npm start` and `npm test` work on a fresh clone: installs npm dependencies when they are
// missing or older than the lock file, with --servers nats-server and redis-server when they are not on PATH, and
// with --test-tools what the test suite needs besides (scripts/install-test-tools.sh).
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

const [major, minor] = process.versions.node.split('.').map(Number);
if (major < 20 || (major === 20 && minor < 12)) {
  say(`Node.js ${process.versions.node} is too old: kvflow needs Node.js 20.12 or newer`);
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
