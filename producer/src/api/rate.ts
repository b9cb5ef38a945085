import {
  describeProfile,
  PROFILE_KINDS,
  type ProfileSettings,
  profileFrom,
  RATE_FIELD_NAMES,
  RATE_FIELDS,
} from '@kvflow/common';
import type { FastifyInstance } from 'fastify';
import type { RateGenerator } from '../rate-generator.js';
import type { AuthPolicy } from './auth.js';
import { ApiError, errorBodySchema } from './errors.js';

export interface RateRoutesOptions {
  generator: RateGenerator;
  auth: AuthPolicy;
}

/** The `PUT /rate` query, from the one set of rate rules (common/rate-profile). */
const rateQuery = {
  type: 'object',
  required: ['rate'],
  additionalProperties: false,
  properties: {
    profile: { type: 'string', enum: [...PROFILE_KINDS], default: 'constant' },
    ...Object.fromEntries(
      RATE_FIELD_NAMES.map((f) => {
        const r = RATE_FIELDS[f];
        const rule = { type: 'number', minimum: r.min, maximum: r.max, description: r.description };
        return [f, f === 'rate' ? rule : { ...rule, default: r.default }];
      }),
    ),
  },
} as const;

const rateBody = {
  type: 'object',
  properties: {
    profile: { type: 'object', additionalProperties: true },
    description: { type: 'string' },
    target_rate: { type: 'number' },
    actual_rate: { type: 'number' },
  },
  required: ['profile', 'description', 'target_rate', 'actual_rate'],
} as const;

/** The one example every "how do I call PUT /rate" answer gives. */
export const RATE_EXAMPLE =
  'PUT /rate?rate=500 (or PUT /rate?rate=50&profile=burst&burstRate=1000&burstS=10)';

/** PUT /rate reads its query only: a body (any media type) is refused before it is read, saying so. */
function hasBody(headers: Record<string, string | string[] | undefined>): boolean {
  const length = headers['content-length'];
  return headers['transfer-encoding'] !== undefined || (length !== undefined && length !== '0');
}

/**
 * Live control of the rate generator: `GET /rate` shows it, `PUT /rate?rate=500&profile=burst&…` changes it at
 * once (the local counterpart of `task update-rate`).
 */
export async function rateRoutes(app: FastifyInstance, o: RateRoutesOptions) {
  const current = () => ({
    profile: o.generator.currentProfile,
    description: describeProfile(o.generator.currentProfile),
    target_rate: o.generator.targetRateNow(),
    actual_rate: o.generator.actualRate(),
  });
  // An empty body with a Content-Type (some clients always send one) is no body: not a 415.
  app.addContentTypeParser('*', (_req, _payload, done) => done(null, undefined));
  app.get(
    '/rate',
    {
      ...o.auth.reads.hooks,
      schema: {
        summary: 'The rate generator: profile, target and achieved events/s',
        security: o.auth.reads.security,
        response: { 200: rateBody, ...o.auth.reads.responses },
      },
    },
    async () => current(),
  );
  app.put<{ Querystring: ProfileSettings }>(
    '/rate',
    {
      preParsing: async (req) => {
        if (hasBody(req.headers))
          throw new ApiError(
            'bad_request',
            `PUT /rate takes query parameters, not a body: e.g. ${RATE_EXAMPLE}; ` +
              `parameters: profile, ${RATE_FIELD_NAMES.join(', ')}`,
          );
      },
      ...o.auth.writes.hooks,
      schema: {
        summary: 'Change the rate generator now (events/s; fractions allowed; 0 = off)',
        description: `The settings are query parameters (no body), e.g. ${RATE_EXAMPLE}.`,
        querystring: rateQuery,
        security: o.auth.writes.security,
        response: { 200: rateBody, 400: errorBodySchema, ...o.auth.writes.responses },
      },
    },
    async (req) => {
      o.generator.setProfile(profileFrom(req.query));
      return current();
    },
  );
}
