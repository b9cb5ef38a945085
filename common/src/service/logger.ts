import { type Logger, type LoggerOptions, pino } from 'pino';

export type { Logger };

/**
 * pino JSON logger. Values and secrets never reach the logs: the redact list covers event values, credentials
 * and authorization headers wherever they appear one level deep.
 */
export function createLogger(service: string, level: string, opts: { stderr?: boolean } = {}): Logger {
  const options: LoggerOptions = {
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
  };
  // Commands whose stdout is their result (the CLI's --json) log to stderr.
  return opts.stderr ? pino(options, pino.destination(2)) : pino(options);
}
