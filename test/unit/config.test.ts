import { ConfigError, env, parseEnv, startTracing } from '@kvflow/common';
import { consumerSettings } from '@kvflow/consumer';
import { producerSettings } from '@kvflow/producer';
import { describe, expect, it } from 'vitest';

function problems(load: () => unknown): string[] {
  try {
    load();
  } catch (err) {
    if (err instanceof ConfigError) return err.problems;
    throw err;
  }
  throw new Error('expected a ConfigError');
}

describe('configuration', () => {
  it('has working defaults for every setting', () => {
    const p = producerSettings.parse({});
    expect(p.httpPort).toBe(8080);
    expect(p.generator.profile).toEqual({ kind: 'constant', rate: 0 });
    expect(p.stream.valueMaxBytes).toBe(65_536);
    const c = consumerSettings.parse({});
    expect(c.worker.batchSize).toBe(256);
    expect(c.stream.consumer).toBe('workers');
    expect(c.connection.natsServers).toEqual(['nats://127.0.0.1:4222']);
  });

  it('reads fractional rates and profiles', () => {
    const p = producerSettings.parse({
      RATE: '0.5',
      PROFILE: 'burst',
      BURST_RATE: '2000',
      BURST_S: '5',
      PERIOD_S: '30',
    });
    expect(p.generator.profile).toEqual({
      kind: 'burst',
      rate: 0.5,
      burstRate: 2000,
      burstS: 5,
      periodS: 30,
    });
  });

  it('treats empty variables as unset', () => {
    expect(consumerSettings.parse({ BATCH_SIZE: '' }).worker.batchSize).toBe(256);
  });

  it.each([
    [{ RATE: 'fast' }, 'RATE="fast" is invalid: expected a number from 0 to 1000000'],
    [{ RATE: '-1' }, 'RATE="-1" is invalid: expected a number from 0 to 1000000'],
    [{ HTTP_PORT: '70000' }, 'HTTP_PORT="70000" is invalid: expected an integer from 0 to 65535'],
    [{ HTTP_PORT: '80.5' }, 'HTTP_PORT="80.5" is invalid: expected an integer from 0 to 65535'],
    [{ PROFILE: 'zigzag' }, 'PROFILE="zigzag" is invalid: expected one of constant, step, sine, burst'],
    [{ NATS_URL: 'http://x:4222' }, 'NATS_URL="http://x:4222" is invalid: expected comma-separated URLs'],
    [
      { REDIS_URL: 'localhost' },
      'REDIS_URL="localhost" is invalid: expected comma-separated URLs starting with redis://',
    ],
    [{ REDIS_URL: 'redis://a,redis://b' }, 'REDIS_URL lists 2 servers: a single Redis takes one URL'],
    [{ REDIS_CLUSTER: 'yes please' }, 'REDIS_CLUSTER="yes please" is invalid: expected true or false'],
    [{ STREAM_NAME: 'a.b' }, 'STREAM_NAME="a.b" is invalid: expected letters, digits'],
    [{ PROVISION: 'maybe' }, 'PROVISION="maybe" is invalid: expected true or false'],
  ])('rejects %j', (source, message) => {
    expect(problems(() => producerSettings.parse(source)).join('\n')).toContain(message);
  });

  it('reports every bad variable at once', () => {
    const found = problems(() =>
      consumerSettings.parse({ BATCH_SIZE: '0', WORK_MS: 'x', MAX_DELIVER: '1001' }),
    );
    expect(found).toHaveLength(3);
  });

  it('reads each kind of variable as its rule says', () => {
    const shape = {
      N: env.int(1, 0, 10),
      B: env.bool(false),
      U: env.url('http://a', ['http:']),
      L: env.oneOf('x', ['x', 'y']),
      O: env.optionalString(),
    };
    expect(parseEnv(shape, { N: ' 7 ', B: 'yes', U: 'http://b:1/p', L: 'y' })).toEqual({
      N: 7,
      B: true,
      U: 'http://b:1/p',
      L: 'y',
    });
    expect(parseEnv(shape, {})).toEqual({ N: 1, B: false, U: 'http://a', L: 'x' });
    expect(() => parseEnv(shape, { U: 'ftp://a' })).toThrow(
      /U="ftp:\/\/a" is invalid: expected a URL starting with http:\/\//,
    );
    expect(() => parseEnv(shape, { B: 'TRUE' })).toThrow(/expected true or false/);
  });

  it('ignores variables it does not declare', () => {
    expect(parseEnv({}, { HOME: '/root' })).toEqual({});
  });
});

describe('tracing settings (the standard OTEL_* variables)', () => {
  it('is off without an endpoint, and with OTEL_SDK_DISABLED', () => {
    expect(producerSettings.parse({}).tracing.enabled).toBe(false);
    const off = { OTEL_EXPORTER_OTLP_ENDPOINT: 'http://127.0.0.1:4318', OTEL_SDK_DISABLED: 'true' };
    expect(consumerSettings.parse(off).tracing.enabled).toBe(false);
  });

  it('appends v1/traces to the base endpoint and takes the traces endpoint as it is', () => {
    const base = producerSettings.parse({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://jaeger:4318' }).tracing;
    expect(base).toMatchObject({ enabled: true, tracesUrl: 'http://jaeger:4318/v1/traces' });
    expect(base.serviceName).toBe('kvflow-producer');
    const prefixed = consumerSettings.parse({
      OTEL_EXPORTER_OTLP_ENDPOINT: 'https://otel.example/otlp/',
    }).tracing;
    expect(prefixed.tracesUrl).toBe('https://otel.example/otlp/v1/traces');
    expect(prefixed.serviceName).toBe('kvflow-consumer');
    const signal = producerSettings.parse({
      OTEL_EXPORTER_OTLP_ENDPOINT: 'http://a:4318',
      OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: 'http://b:4318/custom',
      OTEL_SERVICE_NAME: 'api',
    }).tracing;
    expect(signal).toMatchObject({ tracesUrl: 'http://b:4318/custom', serviceName: 'api' });
  });

  it('reads the sampler and its ratio, and names what is wrong', () => {
    const s = producerSettings.parse({
      OTEL_EXPORTER_OTLP_ENDPOINT: 'http://j:4318',
      OTEL_TRACES_SAMPLER: 'parentbased_traceidratio',
      OTEL_TRACES_SAMPLER_ARG: '0.01',
    }).tracing;
    expect(s).toMatchObject({ sampler: 'parentbased_traceidratio', ratio: 0.01 });
    expect(problems(() => producerSettings.parse({ OTEL_TRACES_SAMPLER: 'sometimes' }))[0]).toMatch(
      /OTEL_TRACES_SAMPLER="sometimes" is invalid: expected one of always_on, .*parentbased_traceidratio/,
    );
    expect(problems(() => producerSettings.parse({ OTEL_TRACES_SAMPLER_ARG: '2' }))[0]).toMatch(
      /OTEL_TRACES_SAMPLER_ARG="2" is invalid: expected a number from 0 to 1/,
    );
    expect(problems(() => consumerSettings.parse({ OTEL_EXPORTER_OTLP_ENDPOINT: 'jaeger:4318' }))[0]).toMatch(
      /OTEL_EXPORTER_OTLP_ENDPOINT="jaeger:4318" is invalid: expected an http:\/\/ or https:\/\/ URL/,
    );
  });
});

describe('the root sampling decision (before any span exists)', () => {
  const at = (sampler: string, arg?: string) =>
    startTracing(
      producerSettings.parse({
        OTEL_EXPORTER_OTLP_ENDPOINT: 'http://127.0.0.1:9',
        OTEL_TRACES_SAMPLER: sampler,
        ...(arg === undefined ? {} : { OTEL_TRACES_SAMPLER_ARG: arg }),
      }).tracing,
      'test',
    );

  it('records the ratio of new traces, all or none at the ends', async () => {
    const cases: Array<[string, string | undefined, number, number]> = [
      ['parentbased_traceidratio', '0', 0, 0],
      ['parentbased_traceidratio', '1', 10_000, 10_000],
      ['parentbased_traceidratio', '0.1', 800, 1_200],
      ['parentbased_always_off', undefined, 0, 0],
      ['always_on', undefined, 10_000, 10_000],
    ];
    for (const [sampler, arg, min, max] of cases) {
      const t = at(sampler, arg);
      let sampled = 0;
      for (let i = 0; i < 10_000; i++) if (t?.sampleRoot()) sampled++;
      expect(sampled, `${sampler} ${arg ?? ''}`).toBeGreaterThanOrEqual(min);
      expect(sampled, `${sampler} ${arg ?? ''}`).toBeLessThanOrEqual(max);
      await t?.shutdown();
    }
  });
});
