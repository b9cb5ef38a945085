import { lagOf } from '@kvflow/common';

/**
 * Reads consumer lag the way KEDA's nats-jetstream scaler does: GET <monitoring>/jsz?acc=<account>&consumers=true
 * &config=true, find the stream and consumer, lag = num_pending + num_ack_pending (the stream's last sequence if
 * the consumer does not exist; an error if the stream does not).
 */

interface ConsumerDetail {
  name: string;
  num_pending: number;
  num_ack_pending: number;
  num_redelivered: number;
  delivered?: { stream_seq: number };
}
interface StreamDetail {
  name: string;
  state: { messages: number; first_seq: number; last_seq: number };
  consumer_detail?: ConsumerDetail[];
}
export interface JszResponse {
  account_details?: Array<{ name: string; stream_detail?: StreamDetail[] }>;
}

export interface LagReading {
  lag: number;
  pending: number;
  ackPending: number;
  consumerFound: boolean;
  /** Every stream of the account, by name (for the live view: dead letters, stream size). */
  streams: Map<string, StreamDetail['state']>;
}

export function jszUrl(monitorUrl: string, account: string): string {
  return `${monitorUrl.replace(/\/$/, '')}/jsz?acc=${encodeURIComponent(account)}&consumers=true&config=true`;
}

/** Pure: what KEDA computes from one /jsz answer. */
export function lagFromJsz(body: JszResponse, account: string, stream: string, consumer: string): LagReading {
  const acc = body.account_details?.find((a) => a.name === account);
  const streams = new Map((acc?.stream_detail ?? []).map((s) => [s.name, s.state] as const));
  const s = acc?.stream_detail?.find((x) => x.name === stream);
  if (!s) throw new Error(`stream ${stream} not found in account ${account} at the monitoring endpoint`);
  const c = s.consumer_detail?.find((x) => x.name === consumer);
  if (!c) return { lag: s.state.last_seq, pending: 0, ackPending: 0, consumerFound: false, streams };
  return {
    lag: lagOf(c),
    pending: c.num_pending,
    ackPending: c.num_ack_pending,
    consumerFound: true,
    streams,
  };
}

export async function readLag(
  monitorUrl: string,
  account: string,
  stream: string,
  consumer: string,
): Promise<LagReading> {
  const url = jszUrl(monitorUrl, account);
  let res: Response;
  try {
    res = await fetch(url, { signal: AbortSignal.timeout(3_000) });
  } catch (err) {
    throw new Error(`cannot reach the NATS monitoring endpoint ${url}: ${(err as Error).message}`);
  }
  if (!res.ok) throw new Error(`NATS monitoring endpoint ${url} answered ${res.status}`);
  return lagFromJsz((await res.json()) as JszResponse, account, stream, consumer);
}
