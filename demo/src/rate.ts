#!/usr/bin/env node
import 'dotenv/config';
import { parseArgs } from 'node:util';

/**
 * `npm run rate -- 500` / `npm run rate -- --profile burst --burst-rate 800 --burst-s 10 --period-s 30 50`:
 * changes the running producer's rate generator at once (the local counterpart of `task update-rate`).
 */
const HELP = `npm run rate -- RATE [options]

  RATE              events/s (fractions allowed, 0 = off)
  --profile P       constant (default), step, sine or burst
  --step-rate R     step: the rate to alternate with
  --amplitude A     sine: RATE ± A
  --burst-rate R    burst: the rate during a burst
  --burst-s S       burst: burst length in seconds (default 10)
  --period-s S      step/sine/burst period in seconds (default 60)
  --url URL         producer (default $PRODUCER_URL or http://127.0.0.1:8080)
                    API_TOKEN is sent as a bearer token when set

Examples: npm run rate -- 800
          npm run rate -- 50 --profile burst --burst-rate 1000 --burst-s 20 --period-s 60

Exit codes: 0 changed, 1 producer unreachable or refused, 2 bad arguments.`;

function fail(message: string, code: number): never {
  process.stderr.write(`rate: ${message}\n`);
  if (code === 2) process.stderr.write(`\n${HELP}\n`);
  process.exit(code);
}

const spec = {
  profile: { type: 'string', default: 'constant' },
  'step-rate': { type: 'string' },
  'period-s': { type: 'string' },
  amplitude: { type: 'string' },
  'burst-rate': { type: 'string' },
  'burst-s': { type: 'string' },
  url: { type: 'string', default: process.env.PRODUCER_URL ?? 'http://127.0.0.1:8080' },
  help: { type: 'boolean', short: 'h', default: false },
} as const;

let args: ReturnType<typeof parseArgs<{ options: typeof spec; allowPositionals: true }>>;
try {
  args = parseArgs({ options: spec, allowPositionals: true });
} catch (err) {
  fail((err as Error).message, 2);
}
if (args.values.help) {
  process.stdout.write(`${HELP}\n`);
  process.exit(0);
}
if (args.positionals.length !== 1) fail('give exactly one RATE (events/s), e.g. npm run rate -- 500', 2);

const number = (
  name: string,
  text: string | undefined,
  min: number,
  exclusive = false,
): string | undefined => {
  if (text === undefined) return undefined;
  const n = Number(text);
  if (text.trim() === '' || !Number.isFinite(n) || (exclusive ? n <= min : n < min) || n > 1_000_000) {
    fail(`${name} must be a number ${exclusive ? '>' : '>='} ${min} (and at most 1000000), got "${text}"`, 2);
  }
  return String(n);
};

const profiles = ['constant', 'step', 'sine', 'burst'];
if (!profiles.includes(args.values.profile)) fail(`--profile must be one of ${profiles.join(', ')}`, 2);
const query: Record<string, string | undefined> = {
  rate: number('RATE', args.positionals[0], 0),
  profile: args.values.profile,
  stepRate: number('--step-rate', args.values['step-rate'], 0),
  periodS: number('--period-s', args.values['period-s'], 0, true),
  amplitude: number('--amplitude', args.values.amplitude, 0),
  burstRate: number('--burst-rate', args.values['burst-rate'], 0),
  burstS: number('--burst-s', args.values['burst-s'], 0, true),
};
const qs = new URLSearchParams(
  Object.entries(query).filter((e): e is [string, string] => e[1] !== undefined),
);

let res: Response;
try {
  res = await fetch(`${args.values.url.replace(/\/$/, '')}/rate?${qs}`, {
    method: 'PUT',
    headers: process.env.API_TOKEN ? { authorization: `Bearer ${process.env.API_TOKEN}` } : {},
    signal: AbortSignal.timeout(5_000),
  });
} catch (err) {
  fail(
    `cannot reach the producer at ${args.values.url} (${(err as Error).message}); is "npm run demo" running?`,
    1,
  );
}
const body = (await res.json().catch(() => ({}))) as { description?: string; message?: string };
if (!res.ok) fail(`the producer refused (${res.status}): ${body.message ?? 'no reason given'}`, 1);
process.stdout.write(`rate set: ${body.description}\n`);
