import { OPS_PATHS, opsReply, type Readiness, type Registry } from '@kvflow/common';
import type { FastifyInstance } from 'fastify';

/** `/metrics`, `/healthz`, `/readyz`: the same answers the workers' ops server gives (common/ops-server). */
export async function opsRoutes(app: FastifyInstance, opts: { registry: Registry; readiness: Readiness }) {
  for (const path of OPS_PATHS) {
    app.get(path, { schema: { hide: true } }, async (_req, reply) => {
      const r = await opsReply(path, opts.registry, opts.readiness);
      if (!r) throw new Error(`no ops handler for ${path}`);
      return reply.code(r.status).type(r.contentType).send(r.body);
    });
  }
}
