import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConfigError, RATE_FIELD_NAMES, RATE_FIELDS } from '@kvflow/common';
import {
  diffRateConfig,
  ignoredKeys,
  LIVE_GENERATOR_KEYS,
  liveGeneratorSettings,
  parseConfigMapList,
  parseWatchLine,
  producerSettings,
  readRateConfig,
  splitLines,
} from '@kvflow/producer';
import { describe, expect, it } from 'vitest';

/** The pure half of following the rate ConfigMap: watch lines, list bodies, validation and the diff. */

const cm = (type: string, rv: string, data?: Record<string, unknown>) =>
  JSON.stringify({
    type,
    object: {
      kind: 'ConfigMap',
      apiVersion: 'v1',
      metadata: { name: 'kvflow-producer-rate', resourceVersion: rv },
      data,
    },
  });

describe('watch events', () => {
  it('reads ADDED and MODIFIED as the ConfigMap data, with its resourceVersion', () => {
    expect(parseWatchLine(cm('ADDED', '7', { RATE: '5' }))).toEqual({
      kind: 'data',
      resourceVersion: '7',
      data: { RATE: '5' },
    });
    expect(parseWatchLine(cm('MODIFIED', '8', { RATE: '9', PROFILE: 'burst' }))).toEqual({
      kind: 'data',
      resourceVersion: '8',
      data: { RATE: '9', PROFILE: 'burst' },
    });
    // No data at all is an empty ConfigMap; non-string values cannot come from the API and are dropped.
    expect(parseWatchLine(cm('MODIFIED', '9'))).toEqual({ kind: 'data', resourceVersion: '9', data: {} });
    expect(parseWatchLine(cm('MODIFIED', '9', { RATE: 5 }))).toMatchObject({ data: {} });
  });

  it('reads DELETED and BOOKMARK as positions to resume from', () => {
    expect(parseWatchLine(cm('DELETED', '10', { RATE: '5' }))).toEqual({
      kind: 'deleted',
      resourceVersion: '10',
    });
    const bookmark = JSON.stringify({
      type: 'BOOKMARK',
      object: { kind: 'ConfigMap', apiVersion: 'v1', metadata: { resourceVersion: '12345' } },
    });
    expect(parseWatchLine(bookmark)).toEqual({ kind: 'bookmark', resourceVersion: '12345' });
  });

  it('turns a 410 Status into "list again" and any other Status into an error', () => {
    const status = (code: number, reason: string) =>
      JSON.stringify({
        type: 'ERROR',
        object: {
          kind: 'Status',
          apiVersion: 'v1',
          status: 'Failure',
          code,
          reason,
          message: 'too old resource version: 5 (9)',
        },
      });
    expect(parseWatchLine(status(410, 'Expired'))).toEqual({
      kind: 'gone',
      message: 'Expired: too old resource version: 5 (9)',
    });
    expect(parseWatchLine(status(500, 'InternalError'))).toMatchObject({ kind: 'error', code: 500 });
  });

  it('reports lines it cannot read instead of throwing', () => {
    expect(parseWatchLine('{"type":"ADDED"')).toMatchObject({ kind: 'unreadable' });
    expect(parseWatchLine('[]')).toMatchObject({ kind: 'unreadable' });
    expect(parseWatchLine(JSON.stringify({ type: 'ADDED', object: { metadata: {} } }))).toMatchObject({
      kind: 'unreadable',
    });
    expect(parseWatchLine(cm('SURPRISE', '3'))).toMatchObject({ kind: 'unreadable' });
  });

  it('splits a stream into lines whatever the chunk boundaries', () => {
    const stream = `${cm('ADDED', '1', { RATE: '1' })}\n${cm('MODIFIED', '2', { RATE: '2' })}\n`;
    for (const size of [1, 7, 64, stream.length]) {
      let rest = '';
      const lines: string[] = [];
      for (let i = 0; i < stream.length; i += size) {
        const r = splitLines(rest, stream.slice(i, i + size));
        lines.push(...r.lines);
        rest = r.rest;
      }
      expect(rest).toBe('');
      expect(lines.map((l) => parseWatchLine(l))).toMatchObject([
        { kind: 'data', resourceVersion: '1' },
        { kind: 'data', resourceVersion: '2' },
      ]);
    }
  });
});

describe('the list', () => {
  it('gives the version to watch from and the one ConfigMap, or none', () => {
    const list = {
      kind: 'ConfigMapList',
      apiVersion: 'v1',
      metadata: { resourceVersion: '42' },
      items: [{ metadata: { name: 'kvflow-producer-rate', resourceVersion: '40' }, data: { RATE: '3' } }],
    };
    expect(parseConfigMapList(list)).toEqual({
      resourceVersion: '42',
      configMap: { resourceVersion: '40', data: { RATE: '3' } },
    });
    expect(parseConfigMapList({ ...list, items: [] })).toEqual({ resourceVersion: '42', configMap: null });
    expect(() => parseConfigMapList({ kind: 'Status', code: 403 })).toThrow('not a ConfigMapList');
  });
});

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
