import {
  AckPolicy,
  type ConsumerConfig,
  DeliverPolicy,
  DiscardPolicy,
  JetStreamApiCodes,
  JetStreamApiError,
  type JetStreamManager,
  jetstreamManager,
  RetentionPolicy,
  StorageType,
  type StreamConfig,
} from '@nats-io/jetstream';
import { type NatsConnection, nanos } from '@nats-io/transport-node';
import { maxDeliveriesAdvisorySubject, type StreamSettings } from '../settings/pipeline.js';

/**
 * Creates or updates the event stream, the dead-letter stream and the durable pull consumer. Idempotent: it runs
 * before any worker exists (KEDA reads the consumer's lag while replicas are 0) and again on every deploy.
 */
export interface ProvisionResult {
  stream: 'created' | 'updated';
  dlqStream: 'created' | 'updated';
  consumer: 'created' | 'updated';
}

export function eventStreamConfig(s: StreamSettings): WithName<StreamConfig> {
  return {
    name: s.stream,
    subjects: [s.subject],
    retention: RetentionPolicy.Limits,
    storage: StorageType.File,
    num_replicas: s.replicas,
    max_age: nanos(s.maxAgeMs),
    max_bytes: s.maxBytes,
    // With a size limit, a full stream rejects new writes (the API answers 507 stream_full) instead of silently dropping
    // events no worker has applied yet.
    discard: DiscardPolicy.New,
    duplicate_window: nanos(s.duplicateWindowMs),
  };
}

export function deadLetterStreamConfig(s: StreamSettings): WithName<StreamConfig> {
  return {
    name: s.dlqStream,
    // Poison copies written by workers, and the server's own MAX_DELIVERIES advisories captured durably, so a
    // message that exhausted its deliveries is recorded even if no worker is alive to see the advisory.
    subjects: [`${s.dlqSubject}.>`, maxDeliveriesAdvisorySubject(s)],
    retention: RetentionPolicy.Limits,
    storage: StorageType.File,
    num_replicas: s.replicas,
    max_age: nanos(s.maxAgeMs),
    discard: DiscardPolicy.Old,
    duplicate_window: nanos(s.duplicateWindowMs),
  };
}

export function workerConsumerConfig(s: StreamSettings): Partial<ConsumerConfig> {
  return {
    durable_name: s.consumer,
    description: 'kvflow workers: apply KV events to Redis',
    ack_policy: AckPolicy.Explicit,
    deliver_policy: DeliverPolicy.All,
    filter_subject: s.subject,
    ack_wait: nanos(s.ackWaitMs),
    max_deliver: s.maxDeliver,
    max_ack_pending: s.maxAckPending,
    max_waiting: 512,
  };
}

type WithName<T> = Partial<T> & { name: string };

function isApiError(err: unknown, code: number): boolean {
  return err instanceof JetStreamApiError && err.code === code;
}

async function upsertStream(
  jsm: JetStreamManager,
  cfg: WithName<StreamConfig>,
): Promise<'created' | 'updated'> {
  try {
    await jsm.streams.info(cfg.name);
  } catch (err) {
    if (!isApiError(err, JetStreamApiCodes.StreamNotFound)) throw err;
    await jsm.streams.add(cfg);
    return 'created';
  }
  await jsm.streams.update(cfg.name, cfg);
  return 'updated';
}

async function upsertConsumer(
  jsm: JetStreamManager,
  stream: string,
  cfg: Partial<ConsumerConfig> & { durable_name: string },
): Promise<'created' | 'updated'> {
  try {
    await jsm.consumers.info(stream, cfg.durable_name);
  } catch (err) {
    if (!isApiError(err, JetStreamApiCodes.ConsumerNotFound)) throw err;
    await jsm.consumers.add(stream, cfg);
    return 'created';
  }
  const { durable_name, deliver_policy, ...updatable } = cfg;
  await jsm.consumers.update(stream, durable_name, updatable);
  return 'updated';
}

export async function provision(nc: NatsConnection, s: StreamSettings): Promise<ProvisionResult> {
  const jsm = await jetstreamManager(nc);
  const where = (what: string) => (err: unknown) => {
    throw new Error(`provisioning ${what} failed: ${(err as Error).message}`, { cause: err });
  };
  const stream = await upsertStream(jsm, eventStreamConfig(s)).catch(where(`stream ${s.stream}`));
  const dlqStream = await upsertStream(jsm, deadLetterStreamConfig(s)).catch(where(`stream ${s.dlqStream}`));
  const consumer = await upsertConsumer(jsm, s.stream, {
    ...workerConsumerConfig(s),
    durable_name: s.consumer,
  }).catch(where(`consumer ${s.stream}/${s.consumer}`));
  return { stream, dlqStream, consumer };
}
