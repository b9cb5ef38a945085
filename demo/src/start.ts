#!/usr/bin/env node
import { join } from 'node:path';

import { loadSettings } from '@kvflow/common';
import { launchService } from '@kvflow/stack';
import { localSettings } from './local-env.js';
import { startLocalStack } from './local-stack.js';

/**
 * `npm start`: the system on one machine with one worker (no scaler): local servers, the producer with its API
 * and rate generator, and a worker. Ctrl-C stops everything, the worker drained first.
 */
const say = (line: string) => process.stdout.write(`kvflow: ${line}\n`);

async function main(): Promise<void> {
  const local = loadSettings(localSettings, 'kvflow');
  const stack = await startLocalStack({ ...local.servers, say });
  const env = {
    NATS_URL: stack.natsUrl,
    REDIS_URL: stack.redisUrl,
    RATE: String(local.rate),
    HTTP_HOST: local.httpHost,
    HTTP_PORT: String(local.httpPort),
  };
  const port = local.httpPort;
  const service = (entry: string, name: string, extra: Record<string, string> = {}) =>
    launchService(
      entry,
      { ...process.env, ...env, ...extra },
      { name, logFile: join(stack.logDir, `${name}.log`) },
    );
  const producer = service('producer/dist/main.js', 'producer');
  const worker = service('consumer/dist/main.js', 'worker-1', { METRICS_PORT: '9091' });
  say(`producer: API http://127.0.0.1:${port} (docs /docs), generating ${env.RATE} events/s`);
  say('worker-1: metrics http://127.0.0.1:9091/metrics');
  say(
    `logs in ${stack.logDir}; try: curl -X PUT -H 'content-type: text/plain' -d hello http://127.0.0.1:${port}/keys/greeting`,
  );
  say('Ctrl-C to stop');

  let stopping = false;
  const stop = async () => {
    if (stopping) return;
    stopping = true;
    say('stopping: draining the worker…');
    await worker.stop(30_000);
    await producer.stop(10_000);
    await stack.stop();
    say('stopped');
    process.exit(0);
  };
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.on(signal, () => void stop());
  for (const s of [producer, worker]) {
    void s.exited.then(({ code }) => {
      if (!stopping) {
        say(`${s.name} exited with code ${code}; see ${stack.logDir}/${s.name}.log`);
        void stop();
      }
    });
  }
}

main().catch((err: Error) => {
  process.stderr.write(`kvflow: ${err.message}\n`);
  process.exit(1);
});
