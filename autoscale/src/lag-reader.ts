import { lagOf } from '@kvflow/common';

/**
 * Reads consumer lag the way KEDA's nats-jetstream scaler does (pkg/scalers/nats_jetstream_scaler.go
 * GetMetricsAndActivity): GET <monitoring>/jsz?acc=<account>&consumers=true&config=true, find the account (by id or
 * name), the stream and the consumer; lag = num_pending + num_ack_pending, or the stream's last sequence when the
 * consumer is missing. A scaler instance remembers the stream it last found and the consumer's leader, and KEDA
 * rebuilds it and asks once more after an error (pkg/scaling/cache/scalers_cache.go
 * GetMetricsAndActivityForScaler). So, with a missing stream or consumer:
 *   single server (no meta_cluster; its consumers name no leader):
 *     consumer missing                -> the stream's last sequence
 *     stream never seen by the scaler -> 0 (a new scaler starts with an empty stream), inactive, no error
 *     stream deleted after it was seen -> the last lag read, frozen (nothing makes the scaler drop its copy)
 *   cluster (meta_cluster.cluster_size > 1): either missing -> error "leader node not found for consumer".
 */

interface ConsumerDetail {
  name: string;
  num_pending: number;
  num_ack_pending: number;
  num_redelivered: number;
  delivered?: { stream_seq: number };
  cluster?: { leader?: string };
}
interface StreamDetail {
  name: string;
  state: { messages: number; first_seq: number; last_seq: number };
  consumer_detail?: ConsumerDetail[];
}
export interface JszResponse {
  meta_cluster?: { cluster_size?: number };
  account_details?: Array<{ name: string; id?: string; stream_detail?: StreamDetail[] }>;
}

export interface LagTarget {
  account: string;
  stream: string;
  consumer: string;
}

export interface LagReading {
  lag: number;
  pending: number;
  ackPending: number;
  consumerFound: boolean;
  /** False when the lag comes from no stream in this answer (0, or the last lag read before the stream went). */
  streamFound: boolean;
  /** Every stream of the account in this answer, by name (for the live view: dead letters, stream size). */
  streams: Map<string, StreamDetail['state']>;
}

/** What one scaler instance keeps between reads: the stream it last found and the consumer's leader. */
export interface ScalerMemory {
  stream: StreamDetail;
  consumerLeader: string;
}

export function newScalerMemory(): ScalerMemory {
  return { stream: { name: '', state: { messages: 0, first_seq: 0, last_seq: 0 } }, consumerLeader: '' };
}

export type KedaRead =
  | { memory: ScalerMemory; reading: LagReading }
  | { memory: ScalerMemory; error: string };

function accountOf(body: JszResponse, account: string) {
  return body.account_details?.find((a) => a.id === account || a.name === account);
}

/** One GetMetricsAndActivity of a scaler with `memory`, on one /jsz answer: its new memory, or its error. */
function scalerStep(memory: ScalerMemory, body: JszResponse, t: LagTarget): ScalerMemory | { error: string } {
  const stream = accountOf(body, t.account)?.stream_detail?.find((s) => s.name === t.stream);
  const consumer = stream?.consumer_detail?.find((c) => c.name === t.consumer);
  if ((body.meta_cluster?.cluster_size ?? 0) > 1 && !consumer) {
    // KEDA asks every node for the consumer's leader and finds none.
    return { error: `leader node not found for consumer ${t.consumer}` };
  }
  // A leader cached by an earlier read and no consumer now: the scaler drops its stream.
  if (memory.consumerLeader !== '' && !consumer) return { error: 'stream not found' };
  return { stream: stream ?? memory.stream, consumerLeader: consumer?.cluster?.leader ?? '' };
}

function reading({ stream }: ScalerMemory, body: JszResponse, t: LagTarget): LagReading {
  const accountStreams = accountOf(body, t.account)?.stream_detail ?? [];
  const streams = new Map(accountStreams.map((s) => [s.name, s.state] as const));
  const streamFound = accountStreams.some((s) => s.name === t.stream);
  const c = stream.consumer_detail?.find((x) => x.name === t.consumer);
  const where = { streamFound, streams };
  if (!c) return { lag: stream.state.last_seq, pending: 0, ackPending: 0, consumerFound: false, ...where };
  return {
    lag: lagOf(c),
    pending: c.num_pending,
    ackPending: c.num_ack_pending,
    consumerFound: true,
    ...where,
  };
}

/**
 * KEDA's read through its scalers cache: on an error the scaler is rebuilt and asked again (KEDA sends a new
 * request; here the same answer), and an error on that retry clears the cache, so the next read starts afresh.
 */
export function kedaReadJsz(memory: ScalerMemory, body: JszResponse, t: LagTarget): KedaRead {
  let step = scalerStep(memory, body, t);
  if ('error' in step) step = scalerStep(newScalerMemory(), body, t);
  if ('error' in step) return { memory: newScalerMemory(), error: step.error };
  return { memory: step, reading: reading(step, body, t) };
}

export function jszUrl(monitorUrl: string, account: string): string {
  return `${monitorUrl.replace(/\/$/, '')}/jsz?acc=${encodeURIComponent(account)}&consumers=true&config=true`;
}

/** Pure: what a newly built KEDA scaler computes from one /jsz answer (throws what it would answer as an error). */
export function lagFromJsz(body: JszResponse, account: string, stream: string, consumer: string): LagReading {
  const r = kedaReadJsz(newScalerMemory(), body, { account, stream, consumer });
  if ('error' in r) throw new Error(`${r.error} (stream ${stream}, account ${account})`);
  return r.reading;
}

async function fetchJsz(monitorUrl: string, account: string): Promise<JszResponse> {
  const url = jszUrl(monitorUrl, account);
  let res: Response;
  try {
    res = await fetch(url, { signal: AbortSignal.timeout(3_000) });
  } catch (err) {
    throw new Error(`cannot reach the NATS monitoring endpoint ${url}: ${(err as Error).message}`);
  }
  if (!res.ok) throw new Error(`NATS monitoring endpoint ${url} answered ${res.status}`);
  return (await res.json()) as JszResponse;
}

/** One read by a newly built scaler. */
export async function readLag(
  monitorUrl: string,
  account: string,
  stream: string,
  consumer: string,
): Promise<LagReading> {
  return lagFromJsz(await fetchJsz(monitorUrl, account), account, stream, consumer);
}

/** Reads through one cached scaler, as KEDA's operator and metrics server share one per ScaledObject. */
export function createKedaLagReader(monitorUrl: string, target: LagTarget): () => Promise<LagReading> {
  let memory = newScalerMemory();
  return async () => {
    let body: JszResponse;
    try {
      body = await fetchJsz(monitorUrl, target.account);
    } catch (err) {
      memory = newScalerMemory();
      throw err;
    }
    const r = kedaReadJsz(memory, body, target);
    memory = r.memory;
    if ('error' in r) throw new Error(`${r.error} (stream ${target.stream}, account ${target.account})`);
    return r.reading;
  };
}
