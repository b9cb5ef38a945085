#!/usr/bin/env node
import { connectNats, createLogger, loadSettings, pipelineSettings, provision } from '@kvflow/common';

/**
 * The provisioning step (a Helm hook Job in Kubernetes): creates or updates the streams and the durable consumer,
 * then exits. It must succeed before workers exist, because KEDA reads the consumer's lag at zero replicas.
 */
const { connection, stream: settings } = loadSettings(pipelineSettings, 'kvflow-provision');
const log = createLogger('provision', connection.logLevel);
try {
  const nc = await connectNats(connection, log, 'kvflow-provision');
  log.info(
    { ...(await provision(nc, settings)), stream: settings.stream, consumer: settings.consumer },
    'provisioned',
  );
  await nc.drain();
} catch (err) {
  log.fatal({ err: (err as Error).message }, 'provisioning failed');
  process.exit(1);
}
