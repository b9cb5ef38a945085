import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { describe, expect, it } from 'vitest';

const root = join(import.meta.dirname, '..');
const bootstrap = join(root, 'scripts/bootstrap.mjs');
const localBin = join(root, '.kvflow/node/bin');

// The machine's own node, as a fresh Debian 12 has it (Node 20); an override for machines where it is newer.
const oldNode = process.env.KVFLOW_OLD_NODE ?? '/usr/bin/node';
const probe = spawnSync(oldNode, ['--version'], { encoding: 'utf8' });
const oldVersion = probe.status === 0 ? probe.stdout.trim() : undefined;
const [major = 0, minor = 0] = (oldVersion ?? 'v0.0').slice(1).split('.').map(Number);
const isOld = oldVersion !== undefined && (major < 22 || (major === 22 && minor < 12));
// PATH as a user has it who never touched .kvflow/node: the old node first.
const userPath = [
  '/usr/bin',
  ...(process.env.PATH ?? '').split(delimiter).filter((d) => d !== localBin && d !== '/usr/bin'),
].join(delimiter);

const onOldNode = (...args: string[]) =>
  spawnSync(oldNode, [bootstrap, ...args], {
    cwd: root,
    encoding: 'utf8',
    env: { ...process.env, PATH: userPath },
  });

describe('bootstrap: every npm script works with nothing else typed', () => {
  it('every npm script runs through scripts/bootstrap.mjs', () => {
    const { scripts } = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as {
      scripts: Record<string, string>;
    };
    for (const [name, command] of Object.entries(scripts)) {
      expect(command, `npm run ${name}`).toMatch(/^node scripts\/bootstrap\.mjs( --[a-z-]+)* --run '[^']+'$/);
    }
  });

  it.runIf(isOld)(
    `on an old Node (${oldVersion ?? 'none'} at ${oldNode}) runs the script on .kvflow/node's Node 24, arguments as typed`,
    () => {
      const r = onOldNode('--run', 'node -p', 'process.version + " " + process.env.PATH.split(":")[0]');
      expect(r.status, r.stderr).toBe(0);
      expect(r.stdout.trim()).toBe(`v24.21.0 ${localBin}`);
      expect(r.stderr).toContain(
        `Node.js ${oldVersion?.slice(1)} is older than 22.12: running on .kvflow/node's v24.21.0`,
      );
    },
  );

  it('stops at the first failing step with its exit code, and passes the user arguments to the last step only', () => {
    const r = onOldNode(
      '--run',
      'node -e process.exit(0) && node -e',
      'process.exit(Number(process.argv[1]))',
      '7',
    );
    expect(r.status).toBe(7);
    const first = onOldNode('--run', 'node -e process.exit(3) && node -e', 'process.exit(0)');
    expect(first.status).toBe(3);
  });
});

describe('long steps show progress', () => {
  it('a heartbeat line with the step and elapsed time, and the time it took last time on the next run', () => {
    const timings = mkdtempSync(join(tmpdir(), 'kvflow-timings-'));
    try {
      const run = () =>
        spawnSync('bash', ['-c', 'source scripts/lib.sh && step "a long step" sleep 2.5'], {
          cwd: root,
          encoding: 'utf8',
          env: { ...process.env, KV_TIMINGS: timings, KV_HEARTBEAT_S: '1' },
        });
      const first = run();
      expect(first.status).toBe(0);
      expect(first.stderr).toMatch(/==> a long step\b/);
      expect(first.stderr.match(/\.\.\. a long step: \d+ s/g)?.length ?? 0).toBeGreaterThanOrEqual(2);
      // What it took is kept; a step that took under 5 s gets no forecast, a longer one does.
      const kept = join(timings, 'a_long_step');
      expect(readFileSync(kept, 'utf8').trim()).toMatch(/^[23]$/);
      expect(run().stderr).not.toContain('here last time');
      writeFileSync(kept, '42\n');
      const third = run();
      expect(third.stderr).toMatch(/==> a long step \(took 42 s here last time\)/);
      expect(third.stderr).toMatch(/\.\.\. a long step: \d+ s of about 42 s/);
      const failed = spawnSync(
        'bash',
        ['-c', 'source scripts/lib.sh && step "failing" false; echo "rc=$?"'],
        {
          cwd: root,
          encoding: 'utf8',
          env: { ...process.env, KV_TIMINGS: timings },
        },
      );
      expect(failed.stdout.trim()).toBe('rc=1');
    } finally {
      rmSync(timings, { recursive: true, force: true });
    }
  });
});
