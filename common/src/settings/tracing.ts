import { ConfigError, type EnvValues, env } from './env.js';

/** The samplers of the OpenTelemetry SDK environment specification that kvflow supports. */
export const SAMPLERS = [
  'always_on',
  'always_off',
  'traceidratio',
  'parentbased_always_on',
  'parentbased_always_off',
  'parentbased_traceidratio',
] as const;
export type SamplerName = (typeof SAMPLERS)[number];

/**
 * The standard OpenTelemetry variables, read through the one settings path. Tracing is off unless an OTLP
 * endpoint is set (and `OTEL_SDK_DISABLED` is not true): a process without a collector pays nothing.
 */
export const tracingEnv = {
  OTEL_SDK_DISABLED: env.bool(false),
  OTEL_EXPORTER_OTLP_ENDPOINT: env.optionalString(),
  OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: env.optionalString(),
  OTEL_SERVICE_NAME: env.optionalString(),
  OTEL_TRACES_SAMPLER: env.oneOf('parentbased_always_on', SAMPLERS),
  OTEL_TRACES_SAMPLER_ARG: env.optionalString(),
};

export interface TracingSettings {
  enabled: boolean;
  /** Where spans go: OTLP over HTTP (protobuf), the full URL of the traces endpoint. */
  tracesUrl: string;
  serviceName: string;
  sampler: SamplerName;
  /** For the ratio samplers: the share of new traces recorded, 0 to 1. */
  ratio: number;
}

function httpUrl(name: string, text: string): URL {
  try {
    const url = new URL(text);
    if (url.protocol === 'http:' || url.protocol === 'https:') return url;
  } catch {}
  throw new ConfigError([`${name}=${JSON.stringify(text)} is invalid: expected an http:// or https:// URL`]);
}

/**
 * As the OTLP exporter specification says: `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT` is used as it is,
 * `OTEL_EXPORTER_OTLP_ENDPOINT` is a base URL that gets `v1/traces` appended.
 */
export function tracingSettings(e: EnvValues<typeof tracingEnv>, defaultService: string): TracingSettings {
  const signal = e.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT;
  const base = e.OTEL_EXPORTER_OTLP_ENDPOINT;
  let tracesUrl = '';
  if (signal !== undefined) tracesUrl = httpUrl('OTEL_EXPORTER_OTLP_TRACES_ENDPOINT', signal).href;
  else if (base !== undefined) {
    const url = httpUrl('OTEL_EXPORTER_OTLP_ENDPOINT', base);
    tracesUrl = new URL(`${url.pathname.replace(/\/?$/, '/')}v1/traces`, url).href;
  }
  let ratio = 1;
  if (e.OTEL_TRACES_SAMPLER_ARG !== undefined) {
    ratio = Number(e.OTEL_TRACES_SAMPLER_ARG);
    if (!Number.isFinite(ratio) || ratio < 0 || ratio > 1)
      throw new ConfigError([
        `OTEL_TRACES_SAMPLER_ARG=${JSON.stringify(e.OTEL_TRACES_SAMPLER_ARG)} is invalid: expected a number from 0 to 1`,
      ]);
  }
  return {
    enabled: tracesUrl !== '' && !e.OTEL_SDK_DISABLED,
    tracesUrl,
    serviceName: e.OTEL_SERVICE_NAME ?? defaultService,
    sampler: e.OTEL_TRACES_SAMPLER,
    ratio,
  };
}
