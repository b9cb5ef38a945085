import { connectNats, createLogger, type NatsConnection } from '@kvflow/common';
import { type NatsServer, type RedisServer, type ServiceProcess, startNats, startRedis } from '@kvflow/stack';
import { afterAll, beforeAll } from 'vitest';
import { serviceEnv } from './services.js';
import { connectionFor } from './streams.js';

export interface ServersContext {
  nats: NatsServer;
  redis: RedisServer;
  /** A NATS connection for the test itself. */
  nc: NatsConnection;
  /** Processes the test started; killed after the suite. */
  services: ServiceProcess[];
}

/** Starts a real nats-server and redis-server for the suite (beforeAll) and tears everything down (afterAll). */
export function useServers(): ServersContext {
  const ctx = { services: [] as ServiceProcess[] } as ServersContext;
  beforeAll(async () => {
    [ctx.nats, ctx.redis] = await Promise.all([startNats(), startRedis()]);
    ctx.nc = await connectNats(
      connectionFor(serviceEnv(ctx.nats, ctx.redis)),
      createLogger('test', 'silent'),
      'test',
    );
  });
  afterAll(async () => {
    for (const s of ctx.services) s.child.kill('SIGKILL');
    await ctx.nc?.close();
    await Promise.all([ctx.nats?.stop(), ctx.redis?.stop()]);
  });
  return ctx;
}
