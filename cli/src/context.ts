import {
  type ConnectionSettings,
  connectionEnv,
  connectionSettings,
  connectNats,
  connectRedis,
  createLogger,
  type Logger,
  type NatsConnection,
  parseEnv,
  type Redis,
  type StreamSettings,
  streamEnv,
  streamSettings,
} from '@kvflow/common';

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

  constructor(source: NodeJS.ProcessEnv = process.env) {
    const e = parseEnv({ ...connectionEnv, ...streamEnv }, source);
    this.connection = connectionSettings(e);
    this.stream = streamSettings(e);
    // Commands print their own results; the library logs only warnings and worse.
    this.log = createLogger('kvflow-cli', source.LOG_LEVEL ?? 'warn');
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
  }
}
