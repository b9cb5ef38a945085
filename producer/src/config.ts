import {
  ConfigError,
  type ConnectionSettings,
  connectionEnv,
  connectionSettings,
  defineSettings,
  env,
  PROFILE_KINDS,
  profileFrom,
  RATE_FIELDS,
  type RateField,
  type RateProfile,
  type StreamSettings,
  streamEnv,
  streamSettings,
} from '@kvflow/common';

function rateEnv(field: RateField) {
  const r = RATE_FIELDS[field];
  return env.number(r.default, r.min, r.max);
}

export const producerEnv = {
  ...connectionEnv,
  ...streamEnv,
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
};

export interface GeneratorSettings {
  profile: RateProfile;
  keySpace: number;
  valueSize: number;
  deleteRatio: number;
}

export interface ProducerConfig {
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
}

export const producerSettings = defineSettings(producerEnv, (e): ProducerConfig => {
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
    generator: {
      profile: profileFrom({
        profile: e.PROFILE,
        rate: e.RATE,
        stepRate: e.STEP_RATE,
        periodS: e.PERIOD_S,
        amplitude: e.SINE_AMPLITUDE,
        burstRate: e.BURST_RATE,
        burstS: e.BURST_S,
      }),
      keySpace: e.KEY_SPACE,
      valueSize: e.VALUE_SIZE,
      deleteRatio: e.DELETE_RATIO,
    },
    publish: {
      maxInFlight: e.PUBLISH_MAX_IN_FLIGHT,
      timeoutMs: e.PUBLISH_TIMEOUT_MS,
      retries: e.PUBLISH_RETRIES,
    },
    backlogPollMs: e.BACKLOG_POLL_MS,
    provision: e.PROVISION,
  };
});

export function loadProducerConfig(source: NodeJS.ProcessEnv = process.env): ProducerConfig {
  return producerSettings.parse(source);
}
