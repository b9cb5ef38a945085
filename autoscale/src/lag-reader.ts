import {
  type KedaRead,
  kedaRead,
  type LagReading,
  type LagTarget,
  type MonitoringAnswer,
  type MonitoringRequest,
  newScalerMemory,
  type ScalerEndpoint,
  type ScalerWalk,
} from './keda-jetstream-scaler.js';
import type { JszResponse, VarzResponse } from './nats-monitoring.js';
import { kedaNodeLocator, type NodeLocator } from './nats-node-locator.js';

/** KEDA's default GlobalHTTPTimeout. */
const REQUEST_TIMEOUT_MS = 3_000;

async function fetchAnswer(r: MonitoringRequest): Promise<MonitoringAnswer> {
  let res: Response;
  try {
    res = await fetch(r.url, { signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS) });
  } catch (err) {
    throw new Error(`cannot reach the NATS monitoring endpoint ${r.url}: ${(err as Error).message}`);
  }
  if (!res.ok) throw new Error(`NATS monitoring endpoint ${r.url} answered ${res.status}`);
  let body: unknown;
  try {
    body = await res.json();
  } catch (err) {
    throw new Error(`NATS monitoring endpoint ${r.url} sent no JSON: ${(err as Error).message}`);
  }
  return r.kind === 'jsz'
    ? { kind: 'jsz', body: body as JszResponse }
    : { kind: 'varz', body: body as VarzResponse };
}

/** Runs a walk over HTTP, one request at a time; a failed request is thrown into the walk as its error. */
async function runOverHttp<T>(walk: ScalerWalk<T>): Promise<T> {
  let step = walk.next();
  while (!step.done) {
    let a: MonitoringAnswer;
    try {
      a = await fetchAnswer(step.value);
    } catch (err) {
      step = walk.throw(err);
      continue;
    }
    step = walk.next(a);
  }
  return step.value;
}

export interface LagReaderOptions {
  /** How to reach a cluster's nodes; KEDA's rule (kedaNodeLocator) unless given. */
  locate?: NodeLocator;
}

function endpointOf(monitorUrl: string, opts: LagReaderOptions): ScalerEndpoint {
  return { monitorUrl, locate: opts.locate ?? kedaNodeLocator(monitorUrl) };
}

function unwrap(r: KedaRead, t: LagTarget): LagReading {
  if ('error' in r) throw new Error(`${r.error} (stream ${t.stream}, account ${t.account})`);
  return r.reading;
}

/** One read by a newly built scaler. */
export async function readLag(
  monitorUrl: string,
  account: string,
  stream: string,
  consumer: string,
  opts: LagReaderOptions = {},
): Promise<LagReading> {
  const t = { account, stream, consumer };
  return unwrap(await runOverHttp(kedaRead(newScalerMemory(), t, endpointOf(monitorUrl, opts))), t);
}

/**
 * Reads through one cached scaler, as KEDA's operator and metrics server share one per ScaledObject: on a NATS
 * cluster it finds the consumer leader's node and asks it from then on.
 */
export function createKedaLagReader(
  monitorUrl: string,
  target: LagTarget,
  opts: LagReaderOptions = {},
): () => Promise<LagReading> {
  const endpoint = endpointOf(monitorUrl, opts);
  let memory = newScalerMemory();
  return async () => {
    const r = await runOverHttp(kedaRead(memory, target, endpoint));
    memory = r.memory;
    return unwrap(r, target);
  };
}
