import { describeProfile, type Logger, type Registry } from '@kvflow/common';
import { createRateConfigMetrics } from './metrics.js';
import { diffRateConfig, ignoredKeys, readRateConfig } from './rate-configmap-events.js';
import { watchConfigMap } from './rate-configmap-informer.js';
import type { RateGenerator } from './rate-generator.js';
import type { LiveGeneratorSettings, RateConfigMapSettings } from './settings.js';

/**
 * The producer following its rate ConfigMap: each new version is validated by the producer's own rules and, when
 * it differs from what was last applied, applied to the running generator through the same calls `PUT /rate`
 * makes. An invalid version is logged (key, value, what is allowed), counted, and leaves the rate as it is.
 */
export function followRateConfigMap(o: {
  settings: RateConfigMapSettings;
  generator: RateGenerator;
  /** What the process started with (the same ConfigMap, through the environment). */
  initial: LiveGeneratorSettings;
  registry: Registry;
  log: Logger;
  backoff?: { baseMs: number; maxMs: number };
}): { stop(): Promise<void> } {
  const { log, generator } = o;
  const metrics = createRateConfigMetrics(o.registry);
  const where = { configMap: `${o.settings.namespace}/${o.settings.name}` };
  let applied = o.initial;
  let lastVersion: string | undefined;
  return watchConfigMap(
    { settings: o.settings, log, backoff: o.backoff },
    {
      onData(data, resourceVersion) {
        // A re-list after a reconnect shows the version already handled: nothing new to log, count or apply.
        if (resourceVersion === lastVersion) return;
        lastVersion = resourceVersion;
        const ignored = ignoredKeys(data);
        if (ignored.length > 0)
          log.warn({ ...where, ignored }, 'rate ConfigMap keys the producer does not read');
        const read = readRateConfig(data);
        if (!read.ok) {
          for (const p of read.problems) {
            metrics.invalid.inc({ key: p.key });
            log.error(
              { ...where, resourceVersion, key: p.key, problem: p.message },
              `rate ConfigMap rejected, the current rate is kept: ${p.message}`,
            );
          }
          return;
        }
        const change = diffRateConfig(applied, read.settings);
        applied = read.settings;
        if (change.profile) generator.setProfile(change.profile);
        if (change.shape) generator.setShape(change.shape);
        if (change.profile || change.shape) {
          metrics.applied.inc();
          log.info(
            {
              ...where,
              resourceVersion,
              profile: describeProfile(generator.currentProfile),
              ...generator.shape,
            },
            'rate ConfigMap applied',
          );
        }
      },
      onMissing() {
        log.warn(where, 'rate ConfigMap not found; the current rate is kept');
      },
      onUp(up, reason) {
        metrics.up.set(up ? 1 : 0);
        if (up) log.info(where, 'watching the rate ConfigMap');
        else
          log.warn(
            { ...where, err: reason },
            'rate ConfigMap watch down; the current rate is kept meanwhile',
          );
      },
    },
  );
}
