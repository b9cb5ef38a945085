import type { AutoscalingSettings, ScalingRules } from './autoscaling-settings.js';

/**
 * What KEDA (v2.20) and the HPA controller (Kubernetes v1.34) decide, as pure functions of time, the trigger
 * metrics and current replicas, following their sources. Two triggers: the consumer's lag (nats-jetstream) and,
 * when `arrivalRate.enabled`, the stream's arrival rate in events/s (prometheus). A metric is null when its scaler
 * answered an error (no fallback configured).
 *
 * KEDA (pkg/scaling/scale_handler.go getScaledObjectState: the object is active when any trigger that answered is
 * active; pkg/scaling/executor/scale_scaledobjects.go RequestScale), every `pollingInterval`:
 *   active (lag > activationLagThreshold, or rate > arrivalRate.activationThreshold):
 *                                          lastActiveTime = now; 0 replicas -> max(minReplicaCount, 1)
 *   active while another trigger failed, above 0 replicas (PartialTriggerError): lastActiveTime not updated
 *   not active and a trigger failed        -> no change, lastActiveTime not updated (no fallback)
 *   inactive, minReplicaCount 0, > 0 replicas, lastActiveTime + cooldownPeriod passed -> 0
 *   inactive, replicas < minReplicaCount -> minReplicaCount
 *   otherwise the HPA is in charge (its minReplicas is max(minReplicaCount, 1): controllers/keda/hpa.go).
 *
 * HPA (pkg/controller/podautoscaler/horizontal.go reconcileAutoscaler), every sync period:
 *   first sight of the HPA: recommendations = [current] (recordInitialRecommendation, whatever the windows)
 *   0 replicas -> nothing (scaling disabled); > maxReplicas -> maxReplicas; < minReplicas -> minReplicas, at once
 *   one proposal per metric (replica_calculator.go GetExternalPerPodMetricReplicas, AverageValue target:
 *     lagThreshold for the lag, arrivalRate.perWorkerRate for the rate), each with its own tolerance check:
 *     ratio = metric / (target * current)
 *     proposal = (1 - tolerance) <= ratio <= (1 + tolerance) ? current : ceil(metric / target)
 *   computeReplicasForMetrics: desired = the largest proposal; no change when every metric failed, or when one
 *     failed and the largest proposal of the others is below current (a failed metric never scales down)
 *   stabilization: up = min(desired, recommendations within the scale-up window),
 *                  down = max(desired, recommendations within the scale-down window),
 *                  recommendation = clamp(current, up, down)
 *   rate limits: per policy, periodStart = current - added + removed within periodSeconds;
 *                up: Pods start+value, Percent ceil(start*(1+value/100)); Max picks the largest, Min the smallest
 *                down: Pods start-value, Percent start*(1-value/100) truncated; Max picks the smallest, Min the largest
 *   then [minReplicas, maxReplicas] on the side it moves to.
 *   every change it makes (clamps included) is a scale event for the policies (storeScaleEvent).
 */

export interface Decision {
  replicas: number;
  reason: string;
}

interface Metric {
  name: 'lag' | 'rate';
  value: number | null;
  target: number;
  activation: number;
}

/** A metric as a reason shows it: whole numbers as they are, rates to one decimal. */
function show(value: number): string {
  return Number.isInteger(value) ? String(value) : value.toFixed(1);
}

interface ScaleEvent {
  at: number;
  change: number;
}
interface Recommendation {
  at: number;
  replicas: number;
}

/**
 * The HPA's replica count for an external metric with an AverageValue target (GetExternalPerPodMetricReplicas).
 * Since Kubernetes 1.33 the tolerance band is inclusive at both edges (Tolerances.isWithin); per-HPA tolerances
 * are alpha in 1.34 (HPAConfigurableTolerance, off by default), so both edges use the controller's flag.
 */
export function externalAverageValueReplicas(
  metric: number,
  target: number,
  replicas: number,
  tolerance: number,
): number {
  const ratio = metric / (target * replicas);
  if (1 - tolerance <= ratio && ratio <= 1 + tolerance) return replicas;
  return Math.ceil(metric / target);
}

/** storeScaleEvent: the new event takes the slot of the last one older than the direction's longest period. */
function storeScaleEvent(events: ScaleEvent[], event: ScaleEvent, rules: ScalingRules): ScaleEvent[] {
  const cutoff = event.at - Math.max(...rules.policies.map((p) => p.periodSeconds));
  const slot = events.findLastIndex((e) => e.at < cutoff);
  return slot === -1 ? [...events, event] : events.map((e, i) => (i === slot ? event : e));
}

function changeWithin(events: ScaleEvent[], now: number, periodSeconds: number): number {
  return events.filter((e) => e.at > now - periodSeconds).reduce((sum, e) => sum + e.change, 0);
}

export class KedaHpaModel {
  private lastActive = Number.NEGATIVE_INFINITY;
  /** null until the HPA's first reconcile. */
  private recommendations: Recommendation[] | null = null;
  private upEvents: ScaleEvent[] = [];
  private downEvents: ScaleEvent[] = [];

  constructor(readonly settings: AutoscalingSettings) {}

  get hpaMinReplicas(): number {
    return Math.max(this.settings.minReplicaCount, 1);
  }

  /** The triggers' metrics in the model: the rate counts only when its trigger is rendered. */
  private metrics(lag: number | null, rate: number | null | undefined): Metric[] {
    const s = this.settings;
    const out: Metric[] = [
      { name: 'lag', value: lag, target: s.lagThreshold, activation: s.activationLagThreshold },
    ];
    if (s.arrivalRate.enabled)
      out.push({
        name: 'rate',
        value: rate ?? null,
        target: s.arrivalRate.perWorkerRate,
        activation: s.arrivalRate.activationThreshold,
      });
    return out;
  }

  /**
   * KEDA's poll at time `now` (seconds), with the lag and (when that trigger is on) the arrival rate in events/s.
   * Returns the replica count KEDA sets, or null when it leaves it alone.
   */
  kedaPoll(now: number, lag: number | null, current: number, rate?: number | null): Decision | null {
    const s = this.settings;
    const metrics = this.metrics(lag, rate);
    const active = metrics.find((m) => m.value !== null && m.value > m.activation);
    const failed = metrics.some((m) => m.value === null);
    if (active) {
      // Active with another trigger failing (PartialTriggerError): lastActiveTime is not refreshed above 0.
      if (current > 0) {
        if (!failed) this.lastActive = now;
        return null;
      }
      this.lastActive = now;
      return {
        replicas: this.hpaMinReplicas,
        reason: `activated: ${active.name} ${show(active.value as number)} > ${active.activation}`,
      };
    }
    if (failed) return null;
    if (current > 0 && s.minReplicaCount === 0) {
      // KEDA tests lastActiveTime + cooldown before now, with lastActiveTime stored at whole seconds: on this
      // clock's whole-second polls that is >=.
      if (now - this.lastActive < s.cooldownPeriod) return null;
      return {
        replicas: 0,
        reason: `${metrics.map((m) => `${m.name} <= ${m.activation}`).join(', ')} for the ${s.cooldownPeriod}s cooldown`,
      };
    }
    if (current < s.minReplicaCount) return { replicas: s.minReplicaCount, reason: 'below minReplicaCount' };
    return null;
  }

  /** The HPA's sync at time `now`. Returns the new replica count, or null when it does not change. */
  hpaSync(now: number, lag: number | null, current: number, rate?: number | null): Decision | null {
    const s = this.settings;
    this.recommendations ??= [{ at: now, replicas: current }];
    if (current === 0) return null; // minReplicas >= 1 under KEDA: scaling from zero is KEDA's job
    if (current > s.maxReplicaCount)
      return this.scale(now, current, s.maxReplicaCount, 'above maxReplicaCount');
    if (current < this.hpaMinReplicas)
      return this.scale(now, current, this.hpaMinReplicas, 'below minReplicas');
    const metrics = this.metrics(lag, rate);
    const answered = metrics.filter((m): m is Metric & { value: number } => m.value !== null);
    if (answered.length === 0) return null;
    const proposals = answered.map((m) => ({
      m,
      replicas: externalAverageValueReplicas(m.value, m.target, current, s.hpa.tolerance),
    }));
    const largest = proposals.reduce((a, b) => (b.replicas > a.replicas ? b : a));
    if (answered.length < metrics.length && largest.replicas < current) return null;
    const desired = largest.replicas;
    const stabilized = this.stabilize(now, desired, current);
    const limited = this.limitRate(now, stabilized, current);
    if (limited.replicas === current) return null;
    const wants = proposals.map((p) => `${p.m.name} ${show(p.m.value)} wants ${p.replicas}`).join(', ');
    return this.scale(now, current, limited.replicas, `${limited.reason} (${wants})`);
  }

  private scale(now: number, from: number, to: number, reason: string): Decision {
    const { scaleUp, scaleDown } = this.settings.behavior;
    if (to > from) this.upEvents = storeScaleEvent(this.upEvents, { at: now, change: to - from }, scaleUp);
    else this.downEvents = storeScaleEvent(this.downEvents, { at: now, change: from - to }, scaleDown);
    return { replicas: to, reason };
  }

  private stabilize(now: number, desired: number, current: number): number {
    const { scaleUp, scaleDown } = this.settings.behavior;
    const upCutoff = now - scaleUp.stabilizationWindowSeconds;
    const downCutoff = now - scaleDown.stabilizationWindowSeconds;
    let up = desired;
    let down = desired;
    const recommendations = this.recommendations ?? [];
    for (const r of recommendations) {
      if (r.at > upCutoff) up = Math.min(up, r.replicas);
      if (r.at > downCutoff) down = Math.max(down, r.replicas);
    }
    // The HPA overwrites one sample older than both windows instead; such samples never count again either way.
    const keep = Math.min(upCutoff, downCutoff);
    this.recommendations = [...recommendations.filter((r) => r.at >= keep), { at: now, replicas: desired }];
    let recommendation = current;
    if (recommendation < up) recommendation = up;
    if (recommendation > down) recommendation = down;
    return recommendation;
  }

  private limit(now: number, current: number, rules: ScalingRules, direction: 'up' | 'down'): number {
    if (rules.selectPolicy === 'Disabled') return current;
    const proposals = rules.policies.map((p) => {
      const start =
        current -
        changeWithin(this.upEvents, now, p.periodSeconds) +
        changeWithin(this.downEvents, now, p.periodSeconds);
      if (direction === 'up')
        return p.type === 'Pods' ? start + p.value : Math.ceil(start * (1 + p.value / 100));
      return p.type === 'Pods' ? start - p.value : Math.trunc(start * (1 - p.value / 100));
    });
    const mostChange = direction === 'up' ? Math.max : Math.min;
    const leastChange = direction === 'up' ? Math.min : Math.max;
    return (rules.selectPolicy === 'Max' ? mostChange : leastChange)(...proposals);
  }

  private limitRate(now: number, desired: number, current: number): Decision {
    const s = this.settings;
    if (desired > current) {
      const limit = Math.max(this.limit(now, current, s.behavior.scaleUp, 'up'), current);
      const allowed = Math.min(s.maxReplicaCount, limit);
      if (desired > allowed) {
        return {
          replicas: allowed,
          reason: limit < s.maxReplicaCount ? 'scale-up rate limit' : 'maxReplicaCount',
        };
      }
      return { replicas: desired, reason: 'scale up' };
    }
    if (desired < current) {
      const limit = Math.min(this.limit(now, current, s.behavior.scaleDown, 'down'), current);
      const allowed = Math.max(this.hpaMinReplicas, limit);
      if (desired < allowed) {
        return {
          replicas: allowed,
          reason: limit > this.hpaMinReplicas ? 'scale-down rate limit' : 'minReplicas',
        };
      }
      return { replicas: desired, reason: 'scale down' };
    }
    return { replicas: current, reason: 'steady' };
  }
}
