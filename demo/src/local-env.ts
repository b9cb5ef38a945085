import { join } from 'node:path';
import {
  defineSettings,
  env,
  LOG_LEVELS,
  RATE_FIELDS,
  type StreamSettings,
  streamEnv,
  streamSettings,
} from '@kvflow/common';
import { ROOT } from '@kvflow/stack';

/**
 * What `npm start`, `npm run demo` and `npm run rate` read from the environment (and .env). The servers' URLs are
 * not among them: these commands start or reuse local servers themselves.
 */
export const localSettings = defineSettings(
  {
    ...streamEnv,
    LOG_LEVEL: env.oneOf('info', LOG_LEVELS),
    HTTP_HOST: env.string('127.0.0.1'),
    HTTP_PORT: env.int(8080, 1, 65535),
    // The local servers `npm start` and `npm run demo` start or reuse, and where they keep data and logs.
    NATS_PORT: env.int(4222, 1, 65535),
    NATS_MONITOR_PORT: env.int(8222, 1, 65535),
    REDIS_PORT: env.int(6379, 1, 65535),
    DATA_DIR: env.string(join(ROOT, '.kvflow')),
    // The demo's local scaler serves its metrics here (what Prometheus would scrape from KEDA).
    SCALER_PORT: env.int(9400, 1, 65535),
    API_TOKEN: env.optionalString(),
    PRODUCER_URL: env.url('http://127.0.0.1:8080', ['http:', 'https:']),
    // `npm start` generates a little load by default, so there is something to see.
    RATE: env.number(20, RATE_FIELDS.rate.min, RATE_FIELDS.rate.max),
  },
  (e) => ({
    stream: streamSettings(e) as StreamSettings,
    logLevel: e.LOG_LEVEL,
    httpHost: e.HTTP_HOST,
    httpPort: e.HTTP_PORT,
    servers: {
      natsPort: e.NATS_PORT,
      natsMonitorPort: e.NATS_MONITOR_PORT,
      redisPort: e.REDIS_PORT,
      dataDir: e.DATA_DIR,
    },
    scalerPort: e.SCALER_PORT,
    apiToken: e.API_TOKEN,
    producerUrl: e.PRODUCER_URL,
    rate: e.RATE,
  }),
);

export type LocalSettings = ReturnType<typeof localSettings.parse>;

/** The bearer header for the producer's write endpoints, when API_TOKEN is set. */
export function authHeader(s: LocalSettings): Record<string, string> {
  return s.apiToken ? { authorization: `Bearer ${s.apiToken}` } : {};
}
