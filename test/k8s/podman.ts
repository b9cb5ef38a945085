import { execFile, spawnSync } from 'node:child_process';
import { ROOT } from '@kvflow/stack';

/**
 * podman as this kind of machine needs it (scripts/lib.sh: kv_podman, kv_ulimits): runc, cgroupfs, and explicit
 * ulimits (podman's defaults are above the hard limits here, and raising one needs CAP_SYS_RESOURCE).
 */
const GLOBAL = ['--runtime', 'runc', '--cgroup-manager=cgroupfs'];

export const INSTALL_PODMAN = 'apt-get install podman runc (or: bash local-k8s/install-deps.sh)';

/** Why podman cannot be used here, or undefined when it can (podman on PATH, runc where podman looks). */
export function podmanMissing(): string | undefined {
  const r = spawnSync(
    'sh',
    [
      '-c',
      'command -v podman >/dev/null && { command -v runc || ls /usr/sbin/runc /usr/bin/runc; } 2>/dev/null',
    ],
    { encoding: 'utf8' },
  );
  return r.status === 0 ? undefined : `podman and runc are needed to run the images: ${INSTALL_PODMAN}`;
}

/** nofile = this shell's hard limit, nproc 32768 (runc here refuses higher ones). */
export function ulimits(): string[] {
  const nofile = spawnSync('sh', ['-c', 'ulimit -Hn'], { encoding: 'utf8' }).stdout.trim();
  return [`--ulimit=nofile=${nofile}:${nofile}`, '--ulimit=nproc=32768:32768'];
}

/** The chart's pod and container securityContext, as podman flags; host network so the test servers are reachable. */
export const CHART_FLAGS = [
  '--user',
  '1000:1000',
  '--read-only',
  '--tmpfs',
  '/tmp',
  '--network',
  'host',
  '--cap-drop',
  'ALL',
  '--security-opt',
  'no-new-privileges',
];

export interface PodmanResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs `podman <args>` (with the machine's global flags) to completion. */
export function podman(...args: string[]): PodmanResult {
  const r = spawnSync('podman', [...GLOBAL, ...args], { cwd: ROOT, encoding: 'utf8' });
  if (r.error) throw new Error(`podman ${args.join(' ')}: ${r.error.message}; ${INSTALL_PODMAN}`);
  return { code: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}

/** Like podman(), but throws with its output unless it exits 0; returns stdout trimmed. */
export function podmanOk(...args: string[]): string {
  const r = podman(...args);
  if (r.code !== 0) throw new Error(`podman ${args.join(' ')} exited ${r.code}: ${r.stderr || r.stdout}`);
  return r.stdout.trim();
}

export interface RunSpec {
  name: string;
  image: string;
  env?: Record<string, string>;
  /** The chart's securityContext flags (CHART_FLAGS); false runs as the image says (its own USER). */
  chart?: boolean;
  entrypoint?: string;
  /** Arguments after the image: the command (or the entrypoint's arguments). */
  args?: string[];
}

function runArgs(spec: RunSpec): string[] {
  const env = Object.entries(spec.env ?? {}).flatMap(([k, v]) => ['--env', `${k}=${v}`]);
  return [
    '--name',
    spec.name,
    '--pull',
    'never',
    ...ulimits(),
    ...(spec.chart === false ? [] : CHART_FLAGS),
    ...(spec.entrypoint ? ['--entrypoint', spec.entrypoint] : []),
    ...env,
    spec.image,
    ...(spec.args ?? []),
  ];
}

/** Runs a container to completion and removes it; its exit code and output. */
export function runOnce(spec: RunSpec): PodmanResult {
  return podman('run', '--rm', ...runArgs(spec));
}

/** Starts a container in the background (kept after it exits, for wait/inspect/logs); its id. */
export function runDetached(spec: RunSpec): string {
  return podmanOk('run', '--detach', ...runArgs(spec));
}

/** Sends a signal to a container's PID 1. */
export function kill(name: string, signal: NodeJS.Signals = 'SIGTERM'): void {
  podmanOk('kill', '--signal', signal.replace(/^SIG/, ''), name);
}

/** Waits for a container to exit: its exit code and the ms waited; rejects after timeoutMs. */
export function waitExit(name: string, timeoutMs: number): Promise<{ code: number; ms: number }> {
  const started = performance.now();
  return new Promise((resolve, reject) => {
    execFile(
      'podman',
      [...GLOBAL, 'wait', name],
      { timeout: timeoutMs, encoding: 'utf8' },
      (err, stdout, stderr) => {
        const ms = Math.round(performance.now() - started);
        if (err)
          reject(
            new Error(
              `podman wait ${name}: ${err.killed ? `still running after ${ms} ms` : stderr || err.message}`,
            ),
          );
        else resolve({ code: Number(stdout.trim()), ms });
      },
    );
  });
}

/** `running`, `exited`, ... and the exit code, or undefined when there is no such container. */
export function state(name: string): { status: string; exitCode: number } | undefined {
  const r = podman(
    'inspect',
    '--type',
    'container',
    '--format',
    '{{.State.Status}} {{.State.ExitCode}}',
    name,
  );
  if (r.code !== 0) return undefined;
  const [status = '', code = ''] = r.stdout.trim().split(' ');
  return { status, exitCode: Number(code) };
}

/** The container's output, its last `lines` lines (for failure messages). */
export function logs(name: string, lines = 40): string {
  const r = podman('logs', '--tail', String(lines), name);
  return `${r.stdout}${r.stderr}`.trim();
}

/** The image's size in bytes, as podman reports it. */
export function imageSize(image: string): number {
  return Number(podmanOk('image', 'inspect', '--format', '{{.Size}}', image));
}

/** Removes containers whether they run or not (missing ones are fine). */
export function removeContainers(names: string[]): void {
  if (names.length > 0) podman('rm', '--force', '--ignore', '--time', '0', ...names);
}
