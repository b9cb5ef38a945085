import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  ConfigError,
  type ConnectionSettings,
  connectionEnv,
  connectionSettings,
  defineSettings,
  env,
  PROFILE_KINDS,
  type ProfileSettings,
  profileFrom,
  RATE_FIELD_NAMES,
  RATE_FIELDS,
  type RateField,
  type RateProfile,
  type StreamSettings,
  streamEnv,
  streamSettings,
  type TracingSettings,
  tracingEnv,
  tracingSettings,
} from '@kvflow/common';

function rateEnv(field: RateField) {
  const r = RATE_FIELDS[field];
  return env.number(r.default, r.min, r.max);
}

export const producerEnv = {
  ...connectionEnv,
  ...streamEnv,
  ...tracingEnv,
  HTTP_HOST: env.string('0.0.0.0'),
  HTTP_PORT: env.int(8080, 0, 65535),
  API_TOKEN: env.optionalString(),
  API_TOKEN_READS: env.bool(false),
  RATE: rateEnv('rate'),
  PROFILE: env.oneOf('constant', PROFILE_KINDS),
  STEP_RATE: rateEnv('stepRate'),
  PERIOD_S: rateEnv('periodS'),
  SINE_AMPLITUDE: rateEnv('amplitude'),
  BURST_RATE: rateEnv('burstRate'),
  BURST_S: rateEnv('burstS'),
  KEY_SPACE: env.int(10_000, 1, 1_000_000_000),
  VALUE_SIZE: env.int(64, 0, 8 * 1024 * 1024),
  DELETE_RATIO: env.number(0.05, 0, 1),
  PUBLISH_MAX_IN_FLIGHT: env.int(1024, 1, 100_000),
  PUBLISH_TIMEOUT_MS: env.int(2_000, 100, 120_000),
  PUBLISH_RETRIES: env.int(2, 0, 20),
  BACKLOG_POLL_MS: env.int(5_000, 0, 3_600_000),
  PROVISION: env.bool(true),
  RATE_CONFIGMAP: env.optionalString(),
  POD_NAMESPACE: env.optionalString(),
  KUBE_SERVICE_ACCOUNT_DIR: env.string('/var/run/secrets/kubernetes.io/serviceaccount'),
  KUBERNETES_SERVICE_HOST: env.optionalString(),
  KUBERNETES_SERVICE_PORT: env.int(443, 1, 65535),
};

/**
 * The variables of the chart's rate ConfigMap that the producer follows live (RATE_CONFIGMAP): the rate profile
 * and the shape of the generated events. Their rules are the producer's own (producerEnv, from RATE_FIELDS), so a
 * value is accepted live exactly when it would be accepted at start-up.
 */
export const LIVE_GENERATOR_KEYS = [
  'RATE',
  'PROFILE',
  'STEP_RATE',
  'PERIOD_S',
  'SINE_AMPLITUDE',
  'BURST_RATE',
  'BURST_S',
  'KEY_SPACE',
  'VALUE_SIZE',
] as const;
export type LiveGeneratorKey = (typeof LIVE_GENERATOR_KEYS)[number];

export const liveGeneratorEnv = Object.fromEntries(
  LIVE_GENERATOR_KEYS.map((k) => [k, producerEnv[k]]),
) as Pick<typeof producerEnv, LiveGeneratorKey>;

/** What the rate ConfigMap changes without a restart. */
export interface LiveGeneratorSettings {
  profile: RateProfile;
  keySpace: number;
  valueSize: number;
}

type LiveEnv = { [K in LiveGeneratorKey]: K extends 'PROFILE' ? ProfileSettings['profile'] : number };

function liveGenerator(e: LiveEnv): LiveGeneratorSettings {
  const fields = Object.fromEntries(
    RATE_FIELD_NAMES.map((f) => [f, e[RATE_FIELDS[f].env as LiveGeneratorKey]]),
  );
  return {
    profile: profileFrom({ ...(fields as Omit<ProfileSettings, 'profile'>), profile: e.PROFILE }),
    keySpace: e.KEY_SPACE,
    valueSize: e.VALUE_SIZE,
  };
}

/** Parses the rate ConfigMap's data (or the environment) into the live settings; a ConfigError names bad keys. */
export const liveGeneratorSettings = defineSettings(liveGeneratorEnv, liveGenerator);

/** Where the producer follows its rate ConfigMap through the Kubernetes API (in-cluster). */
export interface RateConfigMapSettings {
  name: string;
  namespace: string;
  /** https://KUBERNETES_SERVICE_HOST:KUBERNETES_SERVICE_PORT */
  apiServer: string;
  /** Holds `token` and `ca.crt` (re-read on every connection: projected tokens rotate). */
  serviceAccountDir: string;
}

// DNS subdomain (ConfigMap names) and DNS label (namespaces), as the API server checks them.
const DNS_SUBDOMAIN = /^(?=.{1,253}$)[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const DNS_LABEL = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/;

function rateConfigMapSettings(e: {
  RATE_CONFIGMAP?: string | undefined;
  POD_NAMESPACE?: string | undefined;
  KUBE_SERVICE_ACCOUNT_DIR: string;
  KUBERNETES_SERVICE_HOST?: string | undefined;
  KUBERNETES_SERVICE_PORT: number;
}): RateConfigMapSettings | undefined {
  const name = e.RATE_CONFIGMAP;
  if (!name) return undefined;
  const problems: string[] = [];
  if (!DNS_SUBDOMAIN.test(name))
    problems.push(
      `RATE_CONFIGMAP=${JSON.stringify(name)} is invalid: expected a ConfigMap name (a DNS subdomain)`,
    );
  let namespace = e.POD_NAMESPACE;
  if (!namespace) {
    const file = join(e.KUBE_SERVICE_ACCOUNT_DIR, 'namespace');
    try {
      namespace = readFileSync(file, 'utf8').trim();
    } catch (err) {
      problems.push(
        `RATE_CONFIGMAP is set but its namespace is unknown: expected POD_NAMESPACE, or a readable ${file} (${(err as Error).message})`,
      );
    }
  }
  if (namespace !== undefined && !DNS_LABEL.test(namespace))
    problems.push(
      `POD_NAMESPACE=${JSON.stringify(namespace)} is invalid: expected a namespace name (a DNS label)`,
    );
  const host = e.KUBERNETES_SERVICE_HOST;
  if (!host)
    problems.push(
      'RATE_CONFIGMAP is set but KUBERNETES_SERVICE_HOST is not: expected the Kubernetes API host (Kubernetes sets it in every pod)',
    );
  if (problems.length > 0 || !host || !namespace) throw new ConfigError(problems);
  return {
    name,
    namespace,
    apiServer: `https://${host.includes(':') ? `[${host}]` : host}:${e.KUBERNETES_SERVICE_PORT}`,
    serviceAccountDir: e.KUBE_SERVICE_ACCOUNT_DIR,
  };
}

export interface GeneratorSettings {
  profile: RateProfile;
  keySpace: number;
  valueSize: number;
  deleteRatio: number;
}

export interface ProducerSettings {
  connection: ConnectionSettings;
  stream: StreamSettings;
  httpHost: string;
  httpPort: number;
  apiToken: string | undefined;
  /** Reads need the token too (only with apiToken). */
  apiTokenReads: boolean;
  generator: GeneratorSettings;
  publish: { maxInFlight: number; timeoutMs: number; retries: number };
  backlogPollMs: number;
  provision: boolean;
  /** Follow the rate ConfigMap live through the Kubernetes API (RATE_CONFIGMAP); undefined = off. */
  rateConfigMap: RateConfigMapSettings | undefined;
  tracing: TracingSettings;
}

export const producerSettings = defineSettings(producerEnv, (e): ProducerSettings => {
  if (e.API_TOKEN_READS && !e.API_TOKEN)
    throw new ConfigError([
      'API_TOKEN_READS="true" is invalid: expected API_TOKEN to be set too (reads cannot need a token that does not exist)',
    ]);
  return {
    connection: connectionSettings(e),
    stream: streamSettings(e),
    httpHost: e.HTTP_HOST,
    httpPort: e.HTTP_PORT,
    apiToken: e.API_TOKEN,
    apiTokenReads: e.API_TOKEN_READS,
    generator: { ...liveGenerator(e), deleteRatio: e.DELETE_RATIO },
    publish: {
      maxInFlight: e.PUBLISH_MAX_IN_FLIGHT,
      timeoutMs: e.PUBLISH_TIMEOUT_MS,
      retries: e.PUBLISH_RETRIES,
    },
    backlogPollMs: e.BACKLOG_POLL_MS,
    provision: e.PROVISION,
    rateConfigMap: rateConfigMapSettings(e),
    tracing: tracingSettings(e, 'kvflow-producer'),
  };
});
