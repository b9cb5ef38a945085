import { setTimeout as sleep } from 'node:timers/promises';
import type { NatsConnection, StreamSettings } from '@kvflow/common';
import { consumerLag, promQuery } from '@kvflow/testkit';
import type { K8sSample } from '../../demo/src/report/k8s-acceptance-report.js';
import { apiGet, apiWatch } from './kube.js';

export interface Obj<S = Record<string, unknown>> {
  metadata: { name: string; uid?: string };
  spec?: Record<string, unknown>;
  status?: S;
}
export interface Condition {
  type: string;
  status: string;
  reason?: string;
  message?: string;
}
interface PodStatus {
  containerStatuses?: Array<{ state?: { terminated?: { exitCode: number; reason?: string } } }>;
}
interface Trigger {
  type: string;
  metadata: Record<string, string>;
}

export interface Recording {
  samples: K8sSample[];
  /** Every change of the consumer's spec.replicas, as the API server records it (a watch, not the samples). */
  replicaChanges: Array<{ t: number; replicas: number }>;
  /** The last terminated state of every consumer container seen. */
  terminated: Map<string, { exitCode: number; reason: string }>;
  /** Seconds since the recording started (0.1 s steps). */
  now(): number;
  stop(): Promise<void>;
}

/** Keeps the last terminated state of every container of the namespace's pods (matching `selector`) in `into`. */
export function watchTerminations(
  ns: string,
  selector: string,
  into: Map<string, { exitCode: number; reason: string }>,
): () => void {
  return apiWatch<Obj<PodStatus>>(
    `/api/v1/namespaces/${ns}/pods?labelSelector=${encodeURIComponent(selector)}`,
    (_type, pod) => {
      for (const c of pod.status?.containerStatuses ?? []) {
        const t = c.state?.terminated;
        if (t) into.set(pod.metadata.name, { exitCode: t.exitCode, reason: t.reason ?? '' });
      }
    },
  );
}

/**
 * Records a run on the node once a second: the lag (as KEDA reads it), the producer's rate, the consumer's replicas,
 * the HPA and the ScaledObject, and the arrival rate from Prometheus with the very query the ScaledObject's
 * prometheus trigger asks (read from the live object).
 */
export function recordRun(input: {
  nc: NatsConnection;
  stream: StreamSettings;
  ns: string;
  consumer: string;
  hpa: string;
  producerUrl: string;
  promUrl: string;
}): Recording {
  const { ns, consumer } = input;
  const samples: K8sSample[] = [];
  const replicaChanges: Recording['replicaChanges'] = [];
  const terminated: Recording['terminated'] = new Map();
  const started = performance.now();
  const now = () => Math.round((performance.now() - started) / 100) / 10;
  const stopPods = watchTerminations(ns, 'app.kubernetes.io/component=consumer', terminated);
  // KEDA's 0 -> 1 and the HPA's first step can land within one second: a once-a-second sample would merge them.
  const stopReplicas = apiWatch<Obj<unknown>>(
    `/apis/apps/v1/namespaces/${ns}/deployments?fieldSelector=metadata.name%3D${consumer}`,
    (_type, d) => {
      const replicas = d.spec?.replicas as number | undefined;
      if (replicas !== undefined && replicas !== replicaChanges.at(-1)?.replicas)
        replicaChanges.push({ t: now(), replicas });
    },
  );
  let sampling = true;
  const value = <T>(r: PromiseSettledResult<T>) => (r.status === 'fulfilled' ? r.value : undefined);
  const arrivalRate = async (so: Obj<{ conditions?: Condition[] }> | undefined) => {
    const query = (so?.spec?.triggers as Trigger[] | undefined)?.find((t) => t.type === 'prometheus')
      ?.metadata.query;
    if (!query) return null;
    const result = (await promQuery(input.promUrl, query)) as Array<{ value: [number, string] }>;
    // No series: KEDA's prometheus scaler answers 0 (ignoreNullValues).
    return result[0] ? Number(result[0].value[1]) : 0;
  };
  const sampler = (async () => {
    while (sampling) {
      const t = now();
      const [lag, deploy, hpa, so, rate] = await Promise.allSettled([
        consumerLag(input.nc, input.stream),
        apiGet<Obj<{ readyReplicas?: number }>>(`/apis/apps/v1/namespaces/${ns}/deployments/${consumer}`),
        apiGet<Obj<{ desiredReplicas?: number }>>(
          `/apis/autoscaling/v2/namespaces/${ns}/horizontalpodautoscalers/${input.hpa}`,
        ),
        apiGet<Obj<{ conditions?: Condition[] }>>(
          `/apis/keda.sh/v1alpha1/namespaces/${ns}/scaledobjects/${consumer}`,
        ),
        fetch(`${input.producerUrl}/rate`, { signal: AbortSignal.timeout(2000) }).then(
          (r) => r.json() as Promise<{ target_rate: number; actual_rate: number }>,
        ),
      ]);
      const d = value(deploy);
      const active = value(so)?.status?.conditions?.find((c) => c.type === 'Active');
      const arrival = await arrivalRate(value(so)).catch(() => null);
      samples.push({
        t,
        lag: value(lag)?.lag ?? null,
        arrival_rate: arrival,
        target_rate: value(rate)?.target_rate ?? null,
        actual_rate: value(rate)?.actual_rate ?? null,
        spec_replicas: (d?.spec?.replicas as number | undefined) ?? null,
        ready_replicas: d?.status?.readyReplicas ?? 0,
        hpa_desired: value(hpa)?.status?.desiredReplicas ?? null,
        keda_active: active ? active.status === 'True' : null,
      });
      await sleep(Math.max(0, 1000 - (performance.now() - started - t * 1000)));
    }
  })();
  return {
    samples,
    replicaChanges,
    terminated,
    now,
    async stop() {
      sampling = false;
      stopPods();
      stopReplicas();
      await sampler;
    },
  };
}
