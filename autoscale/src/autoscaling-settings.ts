import { z } from 'zod';

/**
 * The autoscaling section of the Helm chart's values (charts/kvflow/values.yaml): the same numbers feed the KEDA
 * ScaledObject in Kubernetes and the local scaler on one machine. Absent fields take KEDA's and the HPA's
 * defaults, exactly as the cluster would.
 */

const policy = z.object({
  type: z.enum(['Pods', 'Percent']),
  value: z.number().int().positive(),
  periodSeconds: z.number().int().min(1).max(1800),
});

const rules = (defaults: { window: number; policies: z.infer<typeof policy>[] }) =>
  z
    .object({
      stabilizationWindowSeconds: z.number().int().min(0).max(3600).default(defaults.window),
      selectPolicy: z.enum(['Max', 'Min', 'Disabled']).default('Max'),
      policies: z.array(policy).min(1).default(defaults.policies),
    })
    .prefault({});

// HPA defaults (autoscaling/v2): scale down 100% per 15 s after a 300 s window; scale up without a window by
// max(100%, 4 pods) per 15 s.
const scaleDownDefaults = {
  window: 300,
  policies: [{ type: 'Percent' as const, value: 100, periodSeconds: 15 }],
};
const scaleUpDefaults = {
  window: 0,
  policies: [
    { type: 'Percent' as const, value: 100, periodSeconds: 15 },
    { type: 'Pods' as const, value: 4, periodSeconds: 15 },
  ],
};

export const autoscalingSchema = z
  .object({
    // KEDA ScaledObject defaults.
    minReplicaCount: z.number().int().min(0).default(0),
    maxReplicaCount: z.number().int().min(1).default(100),
    pollingInterval: z.number().int().min(1).default(30),
    cooldownPeriod: z.number().int().min(0).default(300),
    // KEDA nats-jetstream trigger defaults.
    lagThreshold: z.number().int().min(1).default(10),
    activationLagThreshold: z.number().int().min(0).default(0),
    // The second trigger: KEDA's prometheus scaler on the stream's arrival rate (events/s), with an AverageValue
    // target of perWorkerRate. Off when absent, as a ScaledObject without that trigger.
    arrivalRate: z
      .object({
        enabled: z.boolean().default(false),
        perWorkerRate: z.number().positive().default(100),
        activationThreshold: z.number().min(0).default(0),
        // The range of rate() in the query: rate(kvflow_events_produced_total[windowSeconds s]).
        windowSeconds: z.number().int().min(1).max(3600).default(60),
      })
      .prefault({}),
    behavior: z.object({ scaleUp: rules(scaleUpDefaults), scaleDown: rules(scaleDownDefaults) }).prefault({}),
    // kube-controller-manager settings in a cluster (--horizontal-pod-autoscaler-sync-period, -tolerance). The
    // tolerance holds the count while 1 - tolerance <= lag / (lagThreshold * current) <= 1 + tolerance, both edges
    // included (Kubernetes >= 1.33). Per-HPA behavior.scaleUp/scaleDown.tolerance is alpha in 1.34
    // (HPAConfigurableTolerance, off by default: the API server drops the fields), so it is not read here either.
    hpa: z
      .object({
        syncPeriodSeconds: z.number().int().min(1).default(15),
        tolerance: z.number().min(0).max(1).default(0.1),
      })
      .prefault({}),
  })
  .refine((a) => a.maxReplicaCount >= a.minReplicaCount, 'maxReplicaCount must be >= minReplicaCount');

export type AutoscalingSettings = z.output<typeof autoscalingSchema>;
export type ScalingRules = AutoscalingSettings['behavior']['scaleUp'];
export type ScalingPolicy = ScalingRules['policies'][number];
export type ArrivalRateSettings = AutoscalingSettings['arrivalRate'];

export type Values = Record<string, unknown>;

/** Deep merge of Helm values: maps merge key by key, anything else (lists included) is replaced. */
export function mergeValues(base: Values, override: Values): Values {
  const out: Values = { ...base };
  for (const [k, v] of Object.entries(override)) {
    const b = out[k];
    out[k] =
      v && typeof v === 'object' && !Array.isArray(v) && b && typeof b === 'object' && !Array.isArray(b)
        ? mergeValues(b as Values, v as Values)
        : v;
  }
  return out;
}

export function autoscalingFromValues(values: Values, source: string): AutoscalingSettings {
  const result = autoscalingSchema.safeParse(values.autoscaling ?? {});
  if (!result.success) {
    const problems = result.error.issues.map((i) => `autoscaling.${i.path.join('.')}: ${i.message}`);
    throw new Error(`invalid autoscaling settings in ${source}:\n  - ${problems.join('\n  - ')}`);
  }
  return result.data;
}
