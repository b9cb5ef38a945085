import {
  type ConnectionSettings,
  connectionEnv,
  connectionSettings,
  connectNats,
  connectRedis,
  createLogger,
  defineSettings,
  env,
  LOG_LEVELS,
  type Logger,
  loadSettings,
  type NatsConnection,
  packageVersion,
  type Redis,
  type StreamSettings,
  startTracing,
  streamEnv,
  streamSettings,
  type Tracing,
  tracingEnv,
  tracingSettings,
} from '@kvflow/common';

/** The CLI reads the pipeline's variables; it logs only warnings and worse unless LOG_LEVEL says otherwise. */
export const cliSettings = defineSettings(
  { ...connectionEnv, ...streamEnv, ...tracingEnv, LOG_LEVEL: env.oneOf('warn', LOG_LEVELS) },
  (e) => ({
    connection: connectionSettings(e),
    stream: streamSettings(e),
    tracing: tracingSettings(e, 'kvflow-cli'),
  }),
);

/** Exit codes scripts can rely on. */
export const EXIT = {
  ok: 0,
  failure: 1,
  usage: 2,
  notFound: 3,
  partial: 4,
} as const;

export class CliError extends Error {
  constructor(
    message: string,
    readonly exitCode: number = EXIT.failure,
  ) {
    super(message);
  }
}

/** Settings, logger and lazily opened connections shared by every subcommand. */
export class CliContext {
  readonly connection: ConnectionSettings;
  readonly stream: StreamSettings;
  readonly log: Logger;
  private nc: NatsConnection | null = null;
  private redis: Redis | null = null;
  /** With the OTEL_* settings: `rebuild` continues each traced event's trace. */
  readonly tracing: Tracing | undefined;

  constructor(source: NodeJS.ProcessEnv = process.env) {
    // The start-up path every kvflow process takes: .env, validation, exit 2 naming what to fix.
    const settings = loadSettings(cliSettings, 'kvflow', source);
    this.connection = settings.connection;
    this.stream = settings.stream;
    // Commands print their results on stdout (--json must stay parseable): logs go to stderr.
    this.log = createLogger('kvflow-cli', settings.connection.logLevel, { stderr: true });
    this.tracing = startTracing(settings.tracing, packageVersion(import.meta.url));
  }

  async nats(): Promise<NatsConnection> {
    this.nc ??= await connectNats(this.connection, this.log, 'kvflow-cli');
    return this.nc;
  }

  async redisClient(): Promise<Redis> {
    this.redis ??= await connectRedis(this.connection, this.log, 'kvflow-cli');
    return this.redis;
  }

  async close(): Promise<void> {
    await this.nc?.drain().catch(() => undefined);
    await this.redis?.quit().catch(() => undefined);
    await this.tracing?.shutdown().catch(() => undefined);
  }
}
