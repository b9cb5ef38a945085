import type { AutoscalingSettings, ScalingRules } from './autoscaling-settings.js';

/**
 * What KEDA and the HPA decide, as pure functions of time, lag and current replicas, following their sources:
 *
 * KEDA (ScaledObject executor, nats-jetstream scaler), every `pollingInterval`:
 *   active = lag > activationLagThreshold
 *   0 replicas and active            -> max(minReplicaCount, 1)
 *   inactive for >= cooldownPeriod   -> minReplicaCount (0)
 *   otherwise the HPA is in charge (its minReplicas is max(minReplicaCount, 1)).
 *
 * HPA (external metric, AverageValue target = lagThreshold), every sync period, only while replicas > 0:
 *   ratio = lag / (lagThreshold * current); desired = |1 - ratio| <= tolerance ? current : ceil(lag / lagThreshold)
 *   stabilization: up = min(desired, recommendations within the scale-up window),
 *                  down = max(desired, recommendations within the scale-down window),
 *                  recommendation = clamp(current, up, down)
 *   rate limits: per policy, periodStart = current - added + removed within periodSeconds;
 *                up: Pods start+value, Percent ceil(start*(1+value/100)); Max picks the largest, Min the smallest
 *                down: Pods start-value, Percent floor(start*(1-value/100)); Max picks the smallest, Min the largest
 *   then clamped to [max(minReplicaCount, 1), maxReplicaCount].
 */

export interface Decision {
  replicas: number;
  reason: string;
}

interface ScaleEvent {
  at: number;
  change: number;
}
interface Recommendation {
  at: number;
  replicas: number;
}

export class KedaHpaModel {
  private lastActive = Number.NEGATIVE_INFINITY;
  private recommendations: Recommendation[] = [];
  private upEvents: ScaleEvent[] = [];
  private downEvents: ScaleEvent[] = [];
  private hpaStarted = false;

  constructor(readonly settings: AutoscalingSettings) {}

  get hpaMinReplicas(): number {
    return Math.max(this.settings.minReplicaCount, 1);
  }

  /** KEDA's poll at time `now` (seconds). Returns the replica count KEDA sets, or null when it leaves it alone. */
  kedaPoll(now: number, lag: number, current: number): Decision | null {
    const s = this.settings;
    const active = lag > s.activationLagThreshold;
    if (active) this.lastActive = now;
    if (current < s.minReplicaCount) return { replicas: s.minReplicaCount, reason: 'below minReplicaCount' };
    if (active && current === 0) {
      return { replicas: this.hpaMinReplicas, reason: `activated: lag ${lag} > ${s.activationLagThreshold}` };
    }
    if (!active && current > 0 && s.minReplicaCount === 0 && now - this.lastActive >= s.cooldownPeriod) {
      return {
        replicas: 0,
        reason: `lag <= ${s.activationLagThreshold} for the ${s.cooldownPeriod}s cooldown`,
      };
    }
    return null;
  }

  /** The HPA's sync at time `now`. Returns the new replica count, or null when it does not change. */
  hpaSync(now: number, lag: number, current: number): Decision | null {
    if (current === 0) return null; // scaling to and from zero is KEDA's job
    const s = this.settings;
    if (!this.hpaStarted) {
      this.hpaStarted = true;
      // A new HPA seeds its scale-down window with the current count, so it does not scale down at once.
      if (s.behavior.scaleDown.stabilizationWindowSeconds > 0)
        this.recommendations.push({ at: now, replicas: current });
    }
    const ratio = lag / (s.lagThreshold * current);
    const raw = Math.abs(1 - ratio) <= s.hpa.tolerance ? current : Math.ceil(lag / s.lagThreshold);
    const stabilized = this.stabilize(now, raw, current);
    const limited = this.limitRate(now, stabilized, current);
    if (limited.replicas === current) return null;
    this.recordScaleEvent(now, current, limited.replicas);
    return { replicas: limited.replicas, reason: `${limited.reason} (lag ${lag}, metric wants ${raw})` };
  }

  private stabilize(now: number, desired: number, current: number): number {
    const { scaleUp, scaleDown } = this.settings.behavior;
    const upCutoff = now - scaleUp.stabilizationWindowSeconds;
    const downCutoff = now - scaleDown.stabilizationWindowSeconds;
    let up = desired;
    let down = desired;
    for (const r of this.recommendations) {
      if (r.at > upCutoff) up = Math.min(up, r.replicas);
      if (r.at > downCutoff) down = Math.max(down, r.replicas);
    }
    const keep = Math.min(upCutoff, downCutoff);
    this.recommendations = this.recommendations.filter((r) => r.at >= keep);
    this.recommendations.push({ at: now, replicas: desired });
    let recommendation = current;
    if (recommendation < up) recommendation = up;
    if (recommendation > down) recommendation = down;
    return recommendation;
  }

  private changeWithin(events: ScaleEvent[], now: number, periodSeconds: number): number {
    return events.filter((e) => e.at > now - periodSeconds).reduce((sum, e) => sum + e.change, 0);
  }

  private limit(now: number, current: number, rules: ScalingRules, direction: 'up' | 'down'): number {
    if (rules.selectPolicy === 'Disabled') return current;
    const proposals = rules.policies.map((p) => {
      const start =
        current -
        this.changeWithin(this.upEvents, now, p.periodSeconds) +
        this.changeWithin(this.downEvents, now, p.periodSeconds);
      if (direction === 'up')
        return p.type === 'Pods' ? start + p.value : Math.ceil(start * (1 + p.value / 100));
      return p.type === 'Pods' ? start - p.value : Math.floor(start * (1 - p.value / 100));
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

  /** The HPA remembers its own scale events (not KEDA's) for the policies' periods. */
  private recordScaleEvent(now: number, from: number, to: number): void {
    const keepSince = now - 1800; // the longest period a policy may have
    this.upEvents = this.upEvents.filter((e) => e.at > keepSince);
    this.downEvents = this.downEvents.filter((e) => e.at > keepSince);
    if (to > from) this.upEvents.push({ at: now, change: to - from });
    else this.downEvents.push({ at: now, change: from - to });
  }
}
