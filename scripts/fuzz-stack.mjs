#!/usr/bin/env node
// The producer scripts/fuzz-api.sh fuzzes: a nats-server and a redis-server on free loopback ports (testkit's
// launchers), the built producer and one worker on them (so that reads see the fuzzer's writes). Prints
// "api <base URL>" once both are ready, then runs until SIGTERM/SIGINT and stops everything. Needs `npm run build`
// (tsc -b) and the servers (scripts/install-servers.sh).
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort, httpReady, launchService, startNats, startRedis, waitUntil } from '@kvflow/stack';

const logDir = mkdtempSync(join(tmpdir(), 'kvflow-fuzz-'));
const [nats, redis] = await Promise.all([startNats(), startRedis()]);
const [port, metricsPort] = await Promise.all([freePort(), freePort()]);
const env = { PATH: process.env.PATH ?? '', NATS_URL: nats.url, REDIS_URL: redis.url, LOG_LEVEL: 'warn' };
const service = (entry, name, extra) =>
  launchService(entry, { ...env, ...extra }, { name, logFile: join(logDir, `${name}.log`) });
const producer = service('producer/dist/main.js', 'producer', {
  HTTP_HOST: '127.0.0.1',
  HTTP_PORT: String(port),
});
// The producer provisions the stream; the worker waits for it.
const worker = service('consumer/dist/main.js', 'worker', {
  PROVISION: 'false',
  METRICS_HOST: '127.0.0.1',
  METRICS_PORT: String(metricsPort),
});

let stopping = false;
async function stop(code) {
  if (stopping) return;
  stopping = true;
  await Promise.all([producer.stop(5_000), worker.stop(5_000)]);
  await Promise.all([nats.stop(), redis.stop()]);
  process.exit(code);
}
process.on('SIGTERM', () => void stop(0));
process.on('SIGINT', () => void stop(0));
for (const service of [producer, worker])
  service.exited.then(({ code }) => {
    if (stopping) return;
    process.stderr.write(
      `fuzz stack: the ${service.name} exited (${code}); see ${logDir}/${service.name}.log\n`,
    );
    void stop(1);
  });

try {
  await waitUntil(
    'producer and worker ready',
    async () => (await httpReady(port)) && (await httpReady(metricsPort)),
    30_000,
  );
} catch (err) {
  process.stderr.write(`fuzz stack: ${err.message}; logs in ${logDir}\n`);
  await stop(1);
}
process.stdout.write(`api http://127.0.0.1:${port}\nlogs ${logDir}\n`);
