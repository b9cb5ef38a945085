import { type Logger, pino } from 'pino';

export type { Logger };

/**
 * pino JSON logger. Values and secrets never reach the logs: the redact list covers event values, credentials
 * and authorization headers wherever they appear one level deep.
 */
export function createLogger(service: string, level = process.env.LOG_LEVEL ?? 'info'): Logger {
  return pino({
    name: service,
    level,
    base: { service, pid: process.pid },
    redact: {
      paths: [
        'value',
        '*.value',
        'password',
        '*.password',
        'token',
        '*.token',
        'apiToken',
        '*.apiToken',
        'authorization',
        'req.headers.authorization',
        'headers.authorization',
      ],
      censor: '[redacted]',
    },
  });
}
