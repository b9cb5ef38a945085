import { createLogger, createRegistry, RATE_FIELDS, Readiness } from '@kvflow/common';
import { buildApi, createProducerMetrics, RateGenerator } from '@kvflow/producer';
import { spawnService } from '@kvflow/testkit';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

/**
 * `npm run rate -- …` (demo/dist/rate.js, what the npm script runs) with bad arguments: each is refused with exit 2
 * and a message naming the rule, before the producer is asked. A real producer API (its rate routes, no NATS
 * needed) answers the arguments that are good, so a refusal is the CLI's, not the producer's.
 */

const log = createLogger('bad-input-rate-test', 'silent');
let app: FastifyInstance;
let generator: RateGenerator;
let url: string;

beforeAll(async () => {
  const registry = createRegistry();
  generator = new RateGenerator(
    { profile: { kind: 'constant', rate: 0 }, keySpace: 10, valueSize: 8, deleteRatio: 0 },
    () => undefined,
    log,
    createProducerMetrics(registry),
  );
  app = await buildApi({
    publisher: () => undefined,
    redis: () => undefined,
    registry,
    readiness: new Readiness([]),
    apiToken: undefined,
    valueMaxBytes: 1024,
    generator,
  });
  await app.listen({ host: '127.0.0.1', port: 0 });
  url = `http://127.0.0.1:${(app.server.address() as { port: number }).port}`;
});
afterAll(async () => {
  generator?.stop();
  await app?.close();
});

async function rate(...args: string[]) {
  const svc = spawnService('demo/dist/rate.js', { PATH: process.env.PATH ?? '', PRODUCER_URL: url }, args);
  const { code } = await svc.exited;
  const output = svc.output();
  // The first line is the verdict; a refusal (exit 2) prints the usage after it.
  return { code, first: output.split('\n')[0] ?? '', output };
}

const RATE_RULE = `RATE must be a number from ${RATE_FIELDS.rate.min} to ${RATE_FIELDS.rate.max}`;

describe('npm run rate: bad arguments', () => {
  it.each([
    ['a negative rate', ['-5'], `rate: ${RATE_RULE}, got "-5"`],
    ['a hexadecimal rate (decimal only, as RATE=… is read)', ['0x10'], `rate: ${RATE_RULE}, got "0x10"`],
    ['a rate over the maximum', ['1000001'], `rate: ${RATE_RULE}, got "1000001"`],
    [
      'a negative option value',
      ['50', '--profile', 'step', '--step-rate', '-5'],
      'rate: --step-rate must be a number from 0 to 1000000, got "-5"',
    ],
    [
      '--profile burst without --burst-rate',
      ['50', '--profile', 'burst'],
      'rate: --profile burst needs --burst-rate (burst: the rate during a burst, events/s)',
    ],
    [
      '--burst-rate without --profile burst',
      ['50', '--burst-rate', '1000'],
      'rate: --burst-rate needs --profile burst (the profile is constant)',
    ],
    [
      '--period-s with the constant profile',
      ['50', '--period-s', '30'],
      'rate: --period-s needs --profile step or sine or burst (the profile is constant)',
    ],
    [
      'an unknown profile',
      ['50', '--profile', 'wat'],
      'rate: --profile must be one of constant, step, sine, burst, got "wat"',
    ],
  ])('refuses %s with exit 2, and changes nothing', async (_what, args, message) => {
    const res = await rate(...args);
    expect(res.first).toBe(message);
    expect(res.code).toBe(2);
    expect(res.output).not.toContain("'--'"); // no parser advice with a stray quote
    expect(generator.currentProfile).toEqual({ kind: 'constant', rate: 0 });
  });

  it('takes good arguments and the producer applies them', async () => {
    const res = await rate('50', '--profile', 'burst', '--burst-rate', '1000');
    expect(res).toMatchObject({ code: 0, first: 'rate set: burst 1000/s for 10s every 60s, else 50/s' });
    expect(generator.currentProfile).toEqual({
      kind: 'burst',
      rate: 50,
      burstRate: 1000,
      burstS: 10,
      periodS: 60,
    });
    expect((await rate('0')).code).toBe(0);
    expect(generator.currentProfile).toEqual({ kind: 'constant', rate: 0 });
  });
});
