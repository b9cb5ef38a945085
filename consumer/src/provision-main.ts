#!/usr/bin/env node
import 'dotenv/config';
import {
  connectionEnv,
  connectionSettings,
  connectNats,
  createLogger,
  loadOrExit,
  parseEnv,
  provision,
  streamEnv,
  streamSettings,
} from '@kvflow/common';

/**
 * The provisioning step (a Helm hook Job in Kubernetes): creates or updates the streams and the durable consumer,
 * then exits. It must succeed before workers exist, because KEDA reads the consumer's lag at zero replicas.
 */
const env = loadOrExit(() => parseEnv({ ...connectionEnv, ...streamEnv }), 'kvflow-provision');
const log = createLogger('provision', env.LOG_LEVEL);
try {
  const nc = await connectNats(connectionSettings(env), log, 'kvflow-provision');
  const settings = streamSettings(env);
  log.info(
    { ...(await provision(nc, settings)), stream: settings.stream, consumer: settings.consumer },
    'provisioned',
  );
  await nc.drain();
} catch (err) {
  log.fatal({ err: (err as Error).message }, 'provisioning failed');
  process.exit(1);
}
