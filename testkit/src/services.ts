import { type ChildProcess, spawn } from 'node:child_process';
import { resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { nodeFlagsFor } from '@kvflow/common';
import type { MemoryCgroup } from './memory-cgroup.js';
import { ROOT } from './root.js';
import { freePort } from './server-processes.js';

/** The environment a kvflow process needs to reach the test servers, quiet logs unless asked for. */
export function serviceEnv(
  nats: { url: string },
  redis: { url: string },
  extra: Record<string, string> = {},
) {
  return {
    PATH: process.env.PATH ?? '',
    NATS_URL: nats.url,
    REDIS_URL: redis.url,
    LOG_LEVEL: process.env.KVFLOW_TEST_LOG_LEVEL ?? 'warn',
    ...extra,
  };
}

export interface Service {
  child: ChildProcess;
  output: () => string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/**
 * Runs a built kvflow entry point (e.g. `consumer/dist/main.js`) as its own process, as in production; inside
 * `cgroup` when given (the pod's memory limit).
 */
export function spawnService(
  entry: string,
  env: Record<string, string>,
  args: string[] = [],
  cgroup?: MemoryCgroup,
): Service {
  const argv = [process.execPath, ...nodeFlagsFor(entry), resolve(ROOT, entry), ...args];
  const { command, args: rest } = cgroup
    ? cgroup.wrap(argv)
    : { command: argv[0] as string, args: argv.slice(1) };
  const child = spawn(command, rest, { env, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout?.on('data', (d: Buffer) => {
    out += d.toString();
  });
  child.stderr?.on('data', (d: Buffer) => {
    out += d.toString();
  });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((done) =>
    child.once('exit', (code, signal) => done({ code, signal })),
  );
  return { child, output: () => out, exited };
}

export async function waitUntil(what: string, check: () => Promise<boolean> | boolean, timeoutMs = 30_000) {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await check()) return;
    await sleep(50);
  }
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
}

export async function httpReady(port: number): Promise<boolean> {
  try {
    return (await fetch(`http://127.0.0.1:${port}/readyz`)).ok;
  } catch {
    return false;
  }
}

/** Reads one sample of a Prometheus text exposition from a running service. */
export async function scrapeMetric(port: number, sample: string): Promise<number> {
  const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
  const line = text.split('\n').find((l) => l.startsWith(`${sample} `));
  return line ? Number(line.slice(sample.length + 1)) : 0;
}

/**
 * Starts a worker (`consumer/dist/main.js`) on a free metrics port, adds it to `started` (so the suite's teardown
 * kills it even if it never gets ready) and waits until its `/readyz` answers 200.
 */
export async function startWorkerProcess(
  env: Record<string, string>,
  started: Service[],
): Promise<{ service: Service; port: number }> {
  const port = await freePort();
  const service = spawnService('consumer/dist/main.js', { ...env, METRICS_PORT: String(port) });
  started.push(service);
  await waitUntil('worker ready', () => httpReady(port));
  return { service, port };
}
