import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import type { Publisher, Readiness, Redis, Registry } from '@kvflow/common';
import Fastify, { type FastifyInstance } from 'fastify';
import type { RateGenerator } from '../rate-generator.js';
import { requireToken } from './auth.js';
import { errorsPlugin } from './errors.js';
import { keyRoutes } from './keys.js';
import { opsRoutes } from './ops.js';
import { rateRoutes } from './rate.js';

export interface ApiDeps {
  publisher: Publisher;
  redis: Redis;
  registry: Registry;
  readiness: Readiness;
  apiToken: string | undefined;
  valueMaxBytes: number;
  /** The rate generator, when this process runs one: adds `GET/PUT /rate`. */
  generator?: RateGenerator;
}

/** The producer's HTTP API, one plugin per concern: errors, ops endpoints, key routes, rate routes. */
export async function buildApi(deps: ApiDeps): Promise<FastifyInstance> {
  const app = Fastify({
    logger: false,
    // Keys may be 512 bytes, i.e. up to 1,536 characters percent-encoded (the default limit is 100).
    routerOptions: { maxParamLength: 2048 },
    bodyLimit: deps.valueMaxBytes,
  });
  await app.register(swagger, {
    openapi: {
      info: {
        title: 'kvflow API',
        version: '1',
        description:
          'Writes become events in a NATS JetStream stream and are applied to Redis by autoscaled workers. ' +
          'Writes answer 202 once the event is durably stored; reads see it once a worker has applied it.',
      },
      components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } } },
    },
  });
  await app.register(swaggerUi, { routePrefix: '/docs' });
  app.removeAllContentTypeParsers();
  await app.register(errorsPlugin);

  const requireWriteToken = requireToken(deps.apiToken, 'writes');
  const security = deps.apiToken ? [{ bearer: [] }] : [];
  await app.register(opsRoutes, { registry: deps.registry, readiness: deps.readiness });
  await app.register(keyRoutes, {
    publisher: deps.publisher,
    redis: deps.redis,
    valueMaxBytes: deps.valueMaxBytes,
    requireWriteToken,
    security,
  });
  if (deps.generator)
    await app.register(rateRoutes, { generator: deps.generator, requireWriteToken, security });
  return app;
}
