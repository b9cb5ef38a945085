import {
  freePort,
  httpReady,
  launchService,
  type MemoryCgroup,
  type ServiceProcess,
  waitUntil,
} from '@kvflow/stack';

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

/**
 * Runs a built kvflow entry point for a test, its output kept for assertions (see `launchService`); inside `cgroup`
 * when given (the pod's memory limit).
 */
export function spawnService(
  entry: string,
  env: Record<string, string>,
  args: string[] = [],
  cgroup?: MemoryCgroup,
): ServiceProcess {
  return launchService(entry, env, { args, captureOutput: true, ...(cgroup ? { cgroup } : {}) });
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
  started: ServiceProcess[],
): Promise<{ service: ServiceProcess; port: number }> {
  const port = await freePort();
  const service = spawnService('consumer/dist/main.js', { ...env, METRICS_PORT: String(port) });
  started.push(service);
  await waitUntil('worker ready', () => httpReady(port));
  return { service, port };
}
