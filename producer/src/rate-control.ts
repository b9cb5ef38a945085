import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { RateGenerator } from './rate-generator.js';
import { describeProfile, PROFILE_KINDS, type ProfileSettings, profileFrom } from './rate-profile.js';

/**
 * Live control of the rate generator: `GET /rate` shows it, `PUT /rate?rate=500&profile=burst&…` changes it at
 * once (the local counterpart of `task update-rate`, which edits the ConfigMap and restarts the producer).
 */
export type RateQuery = ProfileSettings;

const rateNumber = { type: 'number', minimum: 0, maximum: 1_000_000 } as const;

export function registerRateControl(
  app: FastifyInstance,
  generator: RateGenerator,
  requireToken: (req: FastifyRequest, reply: FastifyReply) => Promise<unknown>,
): void {
  const current = () => ({
    profile: generator.currentProfile,
    description: describeProfile(generator.currentProfile),
    target_rate: generator.targetRateNow(),
    actual_rate: generator.actualRate(),
  });
  app.get(
    '/rate',
    { schema: { summary: 'The rate generator: profile, target and achieved events/s' } },
    async () => current(),
  );
  app.put<{ Querystring: RateQuery }>(
    '/rate',
    {
      preHandler: requireToken,
      schema: {
        summary: 'Change the rate generator now (events/s; fractions allowed; 0 = off)',
        querystring: {
          type: 'object',
          required: ['rate'],
          additionalProperties: false,
          properties: {
            rate: rateNumber,
            profile: { type: 'string', enum: [...PROFILE_KINDS], default: 'constant' },
            stepRate: { ...rateNumber, default: 0 },
            periodS: { type: 'number', exclusiveMinimum: 0, maximum: 86_400, default: 60 },
            amplitude: { ...rateNumber, default: 0 },
            burstRate: { ...rateNumber, default: 0 },
            burstS: { type: 'number', exclusiveMinimum: 0, maximum: 86_400, default: 10 },
          },
        },
      },
    },
    async (req) => {
      generator.setProfile(profileFrom(req.query));
      return current();
    },
  );
}
