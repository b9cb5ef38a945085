import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import type { ConsumerLag, Logger, Publisher, Readiness, Redis, Registry, SpanSource } from '@kvflow/common';
import Fastify, { type FastifyInstance } from 'fastify';
import type { RateGenerator } from '../rate-generator.js';
import { authPolicy } from './auth.js';
import {
  clientErrorHandler,
  errorsPlugin,
  frameworkErrors,
  routeMethods,
  schemaErrorFormatter,
} from './errors.js';
import { keyRoutes } from './keys.js';
import { opsRoutes } from './ops.js';
import { rateRoutes } from './rate.js';
import { tracingPlugin } from './tracing.js';

/**
 * A dependency the API may be built before it is connected: the value itself, or an accessor that returns it once
 * it is ready (undefined until then). The producer serves HTTP at once and connects NATS and Redis afterwards.
 */
export type Eventually<T> = T | (() => T | undefined);

function accessor<T extends object>(dep: Eventually<T>): () => T | undefined {
  return typeof dep === 'function' ? (dep as () => T | undefined) : () => dep;
}

export interface ApiDeps {
  publisher: Eventually<Publisher>;
  redis: Eventually<Redis>;
  registry: Registry;
  readiness: Readiness;
  apiToken: string | undefined;
  /** With `apiToken`: reads (`GET /keys…`, `GET /rate`) need the token too (API_TOKEN_READS). */
  apiTokenReads?: boolean;
  valueMaxBytes: number;
  /** Where unexpected (500) errors are logged (no request logging). Silent when left out. */
  log?: Logger;
  /** The rate generator, when this process runs one: adds `GET/PUT /rate`. */
  generator?: RateGenerator;
  /** The workers' consumer as JetStream sees it: a 409 not_yet_applied says whether any worker is running. */
  consumerLag?: () => Promise<ConsumerLag>;
  /** With tracing on: a span per sampled request (and a log line for it, to `log`). */
  tracing?: SpanSource | undefined;
}

/** The producer's HTTP API, one plugin per concern: errors, ops endpoints, key routes, rate routes. */
export async function buildApi(deps: ApiDeps): Promise<FastifyInstance> {
  const app = Fastify({
    logger: false,
    // Keys may be 512 bytes, i.e. up to 1,536 characters percent-encoded (the default limit is 100).
    routerOptions: { maxParamLength: 2048 },
    bodyLimit: deps.valueMaxBytes,
    // A request that arrives on a kept-alive connection while the server closes is served: NATS stays connected
    // until app.close() returns. Fastify's own 503 for it would carry no Retry-After (seen once in an upgrade).
    return503OnClosing: false,
    // Every refusal in the catalog's shape: the router's (a bad URL, a key over maxParamLength), Node.js's parser's
    // (headers over maxHeaderSize), and validation messages that list an enum's values.
    frameworkErrors,
    clientErrorHandler,
    schemaErrorFormatter,
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
  const methodsFor = routeMethods(app);
  await app.register(swaggerUi, { routePrefix: '/docs' });
  app.removeAllContentTypeParsers();
  await app.register(errorsPlugin, { methodsFor, log: deps.log, valueMaxBytes: deps.valueMaxBytes });

  if (deps.tracing) await app.register(tracingPlugin, { tracing: deps.tracing, log: deps.log ?? app.log });
  const auth = authPolicy(deps.apiToken, deps.apiTokenReads === true);
  await app.register(opsRoutes, { registry: deps.registry, readiness: deps.readiness });
  await app.register(keyRoutes, {
    publisher: accessor(deps.publisher),
    redis: accessor(deps.redis),
    valueMaxBytes: deps.valueMaxBytes,
    auth,
    consumerLag: deps.consumerLag,
  });
  if (deps.generator)
    await app.register(rateRoutes, {
      generator: deps.generator,
      auth,
    });
  return app;
}
