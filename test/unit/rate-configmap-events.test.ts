import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConfigError, RATE_FIELD_NAMES, RATE_FIELDS } from '@kvflow/common';
import {
  diffRateConfig,
  ignoredKeys,
  LIVE_GENERATOR_KEYS,
  liveGeneratorSettings,
  producerSettings,
  readRateConfig,
} from '@kvflow/producer';
import { describe, expect, it } from 'vitest';

/**
 * The pure half of following the rate ConfigMap: validation and the diff. The informer is tested against a real
 * kube-apiserver (test/k8s/rate-configmap-watch.test.ts).
 */

describe('the data', () => {
  it('applies the start-up rules: the same data gives the same settings as a restart would', () => {
    const data = {
      RATE: '2.5',
      PROFILE: 'sine',
      SINE_AMPLITUDE: '1',
      PERIOD_S: '30',
      STEP_RATE: '0',
      BURST_RATE: '0',
      BURST_S: '10',
      KEY_SPACE: '50',
      VALUE_SIZE: '16',
    };
    const read = readRateConfig(data);
    expect(read).toEqual({
      ok: true,
      settings: {
        profile: { kind: 'sine', rate: 2.5, amplitude: 1, periodS: 30 },
        keySpace: 50,
        valueSize: 16,
      },
    });
    const atStart = producerSettings.parse(data).generator;
    expect(read.ok && read.settings).toEqual({
      profile: atStart.profile,
      keySpace: atStart.keySpace,
      valueSize: atStart.valueSize,
    });
    // A key that is absent takes its default, as after a restart.
    expect(readRateConfig({ RATE: '4' })).toEqual({
      ok: true,
      settings: liveGeneratorSettings.parse({ RATE: '4' }),
    });
  });

  it('names every bad key, its value and what is allowed', () => {
    const read = readRateConfig({ RATE: 'fast', PROFILE: 'zigzag', KEY_SPACE: '0', VALUE_SIZE: '12' });
    expect(read).toEqual({
      ok: false,
      problems: [
        { key: 'RATE', message: 'RATE="fast" is invalid: expected a number from 0 to 1000000' },
        {
          key: 'PROFILE',
          message: 'PROFILE="zigzag" is invalid: expected one of constant, step, sine, burst',
        },
        { key: 'KEY_SPACE', message: 'KEY_SPACE="0" is invalid: expected an integer from 1 to 1000000000' },
      ],
    });
  });

  it('holds every rate field to the bounds of RATE_FIELDS', () => {
    for (const f of RATE_FIELD_NAMES) {
      const r = RATE_FIELDS[f];
      expect(readRateConfig({ [r.env]: String(r.max) }).ok, `${r.env} at max`).toBe(true);
      expect(readRateConfig({ [r.env]: String(r.min) }).ok, `${r.env} at min`).toBe(true);
      const over = readRateConfig({ [r.env]: String(r.max * 2) });
      expect(over.ok || over.problems.map((p) => p.key), `${r.env} over max`).toEqual([r.env]);
    }
  });

  it('follows exactly the rate ConfigMap keys and reports the others as ignored', () => {
    expect([...LIVE_GENERATOR_KEYS].sort()).toEqual(
      [...RATE_FIELD_NAMES.map((f) => RATE_FIELDS[f].env), 'PROFILE', 'KEY_SPACE', 'VALUE_SIZE'].sort(),
    );
    expect(ignoredKeys({ RATE: '1', RAET: '2', DELETE_RATIO: '0.1' })).toEqual(['RAET', 'DELETE_RATIO']);
  });
});

describe('the diff', () => {
  const base = liveGeneratorSettings.parse({ RATE: '10' });

  it('is empty when nothing the generator uses changed', () => {
    expect(diffRateConfig(base, liveGeneratorSettings.parse({ RATE: '10' }))).toEqual({});
    // Fields of other profiles do not matter to a constant profile.
    expect(diffRateConfig(base, liveGeneratorSettings.parse({ RATE: '10', BURST_RATE: '99' }))).toEqual({});
  });

  it('gives the new profile or the new shape, each only when it changed', () => {
    expect(diffRateConfig(base, liveGeneratorSettings.parse({ RATE: '20' }))).toEqual({
      profile: { kind: 'constant', rate: 20 },
    });
    expect(
      diffRateConfig(base, liveGeneratorSettings.parse({ RATE: '10', PROFILE: 'burst', BURST_RATE: '99' })),
    ).toEqual({
      profile: { kind: 'burst', rate: 10, burstRate: 99, burstS: 10, periodS: 60 },
    });
    expect(diffRateConfig(base, liveGeneratorSettings.parse({ RATE: '10', VALUE_SIZE: '8' }))).toEqual({
      shape: { keySpace: 10_000, valueSize: 8 },
    });
  });
});

describe('the settings (RATE_CONFIGMAP and where the Kubernetes API is)', () => {
  const inPod = {
    RATE_CONFIGMAP: 'kvflow-producer-rate',
    POD_NAMESPACE: 'kvflow',
    KUBERNETES_SERVICE_HOST: '10.96.0.1',
  };
  const problems = (env: Record<string, string>) => {
    try {
      producerSettings.parse(env);
    } catch (err) {
      if (err instanceof ConfigError) return err.problems;
      throw err;
    }
    throw new Error('expected a ConfigError');
  };

  it('is off without RATE_CONFIGMAP, whatever else is set (outside Kubernetes nothing changes)', () => {
    expect(producerSettings.parse({}).rateConfigMap).toBeUndefined();
    expect(producerSettings.parse({ KUBERNETES_SERVICE_HOST: '10.96.0.1' }).rateConfigMap).toBeUndefined();
  });

  it('reads the API server from KUBERNETES_SERVICE_HOST/PORT and the token folder from KUBE_SERVICE_ACCOUNT_DIR', () => {
    expect(producerSettings.parse(inPod).rateConfigMap).toEqual({
      name: 'kvflow-producer-rate',
      namespace: 'kvflow',
      apiServer: 'https://10.96.0.1:443',
      serviceAccountDir: '/var/run/secrets/kubernetes.io/serviceaccount',
    });
    expect(
      producerSettings.parse({
        ...inPod,
        KUBERNETES_SERVICE_HOST: 'fd00::1',
        KUBERNETES_SERVICE_PORT: '6443',
      }).rateConfigMap?.apiServer,
    ).toBe('https://[fd00::1]:6443');
  });

  it("takes the namespace from the service account's namespace file when POD_NAMESPACE is unset", () => {
    const dir = mkdtempSync(join(tmpdir(), 'kvflow-sa-'));
    try {
      writeFileSync(join(dir, 'namespace'), 'apps\n');
      const { POD_NAMESPACE: _, ...env } = inPod;
      expect(producerSettings.parse({ ...env, KUBE_SERVICE_ACCOUNT_DIR: dir }).rateConfigMap?.namespace).toBe(
        'apps',
      );
      rmSync(join(dir, 'namespace'));
      expect(problems({ ...env, KUBE_SERVICE_ACCOUNT_DIR: dir })[0]).toMatch(
        /RATE_CONFIGMAP is set but its namespace is unknown: expected POD_NAMESPACE, or a readable .*namespace/,
      );
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('names what is wrong', () => {
    const { KUBERNETES_SERVICE_HOST: _, ...noHost } = inPod;
    expect(problems(noHost)).toEqual([
      'RATE_CONFIGMAP is set but KUBERNETES_SERVICE_HOST is not: expected the Kubernetes API host (Kubernetes sets it in every pod)',
    ]);
    expect(problems({ ...inPod, RATE_CONFIGMAP: 'Bad_Name' })).toEqual([
      'RATE_CONFIGMAP="Bad_Name" is invalid: expected a ConfigMap name (a DNS subdomain)',
    ]);
    expect(problems({ ...inPod, POD_NAMESPACE: 'a.b' })).toEqual([
      'POD_NAMESPACE="a.b" is invalid: expected a namespace name (a DNS label)',
    ]);
    expect(problems({ ...inPod, KUBERNETES_SERVICE_PORT: '0' })).toEqual([
      'KUBERNETES_SERVICE_PORT="0" is invalid: expected an integer from 1 to 65535',
    ]);
  });
});
