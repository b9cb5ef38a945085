import { lagOf } from '@kvflow/common';
import {
  type ConsumerDetail,
  isAccount,
  type JszResponse,
  jszUrl,
  type StreamDetail,
  type VarzResponse,
  varzUrl,
} from './nats-monitoring.js';
import type { NodeLocator } from './nats-node-locator.js';

/**
 * KEDA's nats-jetstream scaler (v2.20, pkg/scalers/nats_jetstream_scaler.go) as a pure state machine: a read is a
 * generator that yields each monitoring request and resumes with its answer, so the same logic runs on canned
 * answers (tests) and over HTTP (lag-reader.ts).
 *
 * getNATSJetstreamMonitoringData, per read:
 *   1. GET /jsz from the cached leader URL, or the configured endpoint; take cluster_size, the stream and the
 *      consumer's leader from it. A leader was cached and no consumer now: drop the cache (and the stream).
 *   2. Consumer found and its leader unchanged: done. Otherwise, on a cluster (cluster_size > 1): GET the endpoint's
 *      /varz; ask every node it lists (connect_urls, or cluster.urls when none are advertised), in order, for its
 *      /jsz; the first whose name is the consumer's leader becomes the cached leader URL. None: error "leader node
 *      not found for consumer"; any request failing: that error (the walk does not skip an unreachable node).
 * GetMetricsAndActivity: no stream (dropped) -> error "stream not found"; the consumer missing from the stream it
 * holds -> error `consumer "<name>" not found in stream "<stream>"` (getMaxMsgLag since KEDA PR #7668, v2.20; it
 * used to answer the stream's last_seq); else lag = num_pending + num_ack_pending. A new scaler starts with an
 * empty stream, so a stream it never found errs the same way.
 * Around it, the scalers cache (pkg/scaling/cache/scalers_cache.go GetMetricsAndActivityForScaler): on an error the
 * scaler is rebuilt and asked again (new requests); an error on that retry too clears the cache.
 */

export interface LagTarget {
  account: string;
  stream: string;
  consumer: string;
}

export interface LagReading {
  lag: number;
  pending: number;
  ackPending: number;
  /** False when the stream is gone from this answer and the lag is the last one read (a single server). */
  streamFound: boolean;
  /** Every stream of the account in this answer, by name (for the live view: dead letters, stream size). */
  streams: Map<string, StreamDetail['state']>;
  /** The /jsz URL whose answer the lag comes from: on a cluster, the consumer leader's node. */
  source: string;
  /** The consumer's leader as that answer names it ('' on a single server). */
  consumerLeader: string;
}

/** What one scaler instance keeps between reads. */
export interface ScalerMemory {
  /** The stream last found; null once dropped (the read errs "stream not found"). */
  stream: StreamDetail | null;
  consumerLeader: string;
  /** The /jsz URL of the node found leading the consumer; '' until one is found (never on a single server). */
  leaderUrl: string;
  clusterSize: number;
}

export function newScalerMemory(): ScalerMemory {
  return {
    stream: { name: '', state: { messages: 0, first_seq: 0, last_seq: 0 } },
    consumerLeader: '',
    leaderUrl: '',
    clusterSize: 0,
  };
}

/** Where a scaler sends its requests: the configured monitoring endpoint, and how it reaches a cluster's nodes. */
export interface ScalerEndpoint {
  monitorUrl: string;
  locate: NodeLocator;
}

export interface MonitoringRequest {
  kind: 'jsz' | 'varz';
  url: string;
}
export type MonitoringAnswer = { kind: 'jsz'; body: JszResponse } | { kind: 'varz'; body: VarzResponse };
/** A read as requests: each yield asks one URL and resumes with its answer, or with the request's error thrown. */
export type ScalerWalk<T> = Generator<MonitoringRequest, T, MonitoringAnswer>;

export type KedaRead =
  | { memory: ScalerMemory; reading: LagReading }
  | { memory: ScalerMemory; error: string };

function* askJsz(url: string): ScalerWalk<JszResponse> {
  const answer = yield { kind: 'jsz', url };
  if (answer.kind !== 'jsz') throw new Error(`asked ${url} and got a /${answer.kind} answer`);
  return answer.body;
}

function* askVarz(url: string): ScalerWalk<VarzResponse> {
  const answer = yield { kind: 'varz', url };
  if (answer.kind !== 'varz') throw new Error(`asked ${url} and got a /${answer.kind} answer`);
  return answer.body;
}

function* matchingStreams(body: JszResponse, t: LagTarget): Generator<StreamDetail> {
  for (const account of body.account_details ?? []) {
    if (!isAccount(account, t.account)) continue;
    for (const stream of account.stream_detail ?? []) if (stream.name === t.stream) yield stream;
  }
}

function consumerIn(body: JszResponse, t: LagTarget): ConsumerDetail | undefined {
  for (const stream of matchingStreams(body, t)) {
    const c = stream.consumer_detail?.find((x) => x.name === t.consumer);
    if (c) return c;
  }
  return undefined;
}

/** setNATSJetStreamMonitoringData: whether the answer has the consumer; `leaderUrl` is cached only with one. */
function record(m: ScalerMemory, body: JszResponse, t: LagTarget, leaderUrl: string): boolean {
  m.clusterSize = body.meta_cluster?.cluster_size ?? 0;
  for (const stream of matchingStreams(body, t)) {
    m.stream = stream;
    const c = stream.consumer_detail?.find((x) => x.name === t.consumer);
    if (!c) continue;
    m.consumerLeader = c.cluster?.leader ?? '';
    if (leaderUrl !== '') m.leaderUrl = leaderUrl;
    return true;
  }
  return false;
}

interface Answered {
  url: string;
  body: JszResponse;
}

/** The node walk: the first listed node that names itself the consumer's leader, or null. */
function* findLeader(t: LagTarget, at: ScalerEndpoint): ScalerWalk<Answered | null> {
  const varz = yield* askVarz(varzUrl(at.monitorUrl));
  const advertised = (varz.connect_urls ?? []).length > 0;
  const addresses = advertised ? (varz.connect_urls ?? []) : (varz.cluster?.urls ?? []);
  for (const address of addresses) {
    const node = at.locate(address, advertised);
    const name = node.name ?? (yield* askVarz(varzUrl(node.monitorUrl))).server_name ?? '';
    const url = jszUrl(node.monitorUrl, t.account);
    const body = yield* askJsz(url);
    const c = consumerIn(body, t);
    if (c && (c.cluster?.leader ?? '') === name) return { url, body };
  }
  return null;
}

function reading(c: ConsumerDetail, consumerLeader: string, from: Answered, t: LagTarget): LagReading {
  const accountStreams = from.body.account_details?.find((a) => isAccount(a, t.account))?.stream_detail ?? [];
  return {
    lag: lagOf(c),
    pending: c.num_pending,
    ackPending: c.num_ack_pending,
    streamFound: accountStreams.some((s) => s.name === t.stream),
    streams: new Map(accountStreams.map((s) => [s.name, s.state] as const)),
    source: from.url,
    consumerLeader,
  };
}

/** One GetMetricsAndActivity of the scaler that remembers `before`. */
export function* scalerRead(before: ScalerMemory, t: LagTarget, at: ScalerEndpoint): ScalerWalk<KedaRead> {
  const m: ScalerMemory = { ...before };
  try {
    const cachedLeader = m.consumerLeader;
    const firstUrl = m.leaderUrl !== '' ? m.leaderUrl : jszUrl(at.monitorUrl, t.account);
    let from: Answered = { url: firstUrl, body: yield* askJsz(firstUrl) };
    const found = record(m, from.body, t, '');
    if (cachedLeader !== '' && !found) {
      m.consumerLeader = '';
      m.leaderUrl = '';
      m.stream = null;
    }
    const sameLeader = found && cachedLeader !== '' && cachedLeader === m.consumerLeader;
    if (!sameLeader && m.clusterSize > 1) {
      const leader = yield* findLeader(t, at);
      if (!leader) return { memory: m, error: `leader node not found for consumer ${t.consumer}` };
      record(m, leader.body, t, leader.url);
      from = leader;
    }
    if (m.stream === null) return { memory: m, error: 'stream not found' };
    const c = m.stream.consumer_detail?.find((x) => x.name === t.consumer);
    if (!c) return { memory: m, error: `consumer "${t.consumer}" not found in stream "${t.stream}"` };
    return { memory: m, reading: reading(c, m.consumerLeader, from, t) };
  } catch (err) {
    return { memory: m, error: (err as Error).message };
  }
}

/** A read through KEDA's scalers cache: an error rebuilds the scaler and asks again. */
export function* kedaRead(memory: ScalerMemory, t: LagTarget, at: ScalerEndpoint): ScalerWalk<KedaRead> {
  const first = yield* scalerRead(memory, t, at);
  if (!('error' in first)) return first;
  const retry = yield* scalerRead(newScalerMemory(), t, at);
  // The scale handler clears the cache on this error: the next read starts with a new scaler.
  return 'error' in retry ? { memory: newScalerMemory(), error: retry.error } : retry;
}

/** Runs a walk on answers given at once; an answer that throws is that request's error. */
export function runWalk<T>(walk: ScalerWalk<T>, answer: (r: MonitoringRequest) => MonitoringAnswer): T {
  let step = walk.next();
  while (!step.done) {
    let a: MonitoringAnswer;
    try {
      a = answer(step.value);
    } catch (err) {
      step = walk.throw(err);
      continue;
    }
    step = walk.next(a);
  }
  return step.value;
}

const OFFLINE_ENDPOINT = 'http://nats-monitoring:8222';

/**
 * What a newly built scaler computes from one /jsz answer of a single server (throws what it would answer as an
 * error). A cluster's answer (cluster_size > 1) needs the walk over its nodes, which one answer cannot give: an error.
 */
export function lagFromJsz(body: JszResponse, account: string, stream: string, consumer: string): LagReading {
  const t = { account, stream, consumer };
  const endpoint: ScalerEndpoint = {
    monitorUrl: OFFLINE_ENDPOINT,
    locate: (address) => ({ monitorUrl: address }),
  };
  const r = runWalk(scalerRead(newScalerMemory(), t, endpoint), (req) =>
    req.kind === 'jsz' ? { kind: 'jsz', body } : { kind: 'varz', body: {} },
  );
  if ('error' in r) throw new Error(`${r.error} (stream ${stream}, account ${account})`);
  return r.reading;
}
