#!/usr/bin/env node
import { parseArgs } from 'node:util';
import {
  loadSettings,
  PROFILE_KINDS,
  RATE_FIELD_NAMES,
  RATE_FIELDS,
  type RateField,
  rateFieldProblem,
} from '@kvflow/common';
import { authHeader, localSettings } from './local-env.js';

/**
 * `npm run rate -- 500` / `npm run rate -- --profile burst --burst-rate 800 --burst-s 10 --period-s 30 50`:
 * changes the running producer's rate generator at once (the local counterpart of `task update-rate`).
 */
const local = loadSettings(localSettings, 'rate');
const fieldHelp = RATE_FIELD_NAMES.map((f) => {
  const r = RATE_FIELDS[f];
  return `  ${r.flag.padEnd(16)}  ${r.description} (${r.min}..${r.max}${f === 'rate' ? '' : `, default ${r.default}`})`;
}).join('\n');
const HELP = `npm run rate -- RATE [options]

${fieldHelp}
  --profile P         ${PROFILE_KINDS.join(', ')} (default constant)
  --url URL           producer (default PRODUCER_URL: ${local.producerUrl})
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
  url: { type: 'string', default: local.producerUrl },
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

const option = (field: RateField, text: string | undefined): string | undefined => {
  if (text === undefined) return undefined;
  const n = Number(text);
  const problem = text.trim() === '' ? 'must be a number' : rateFieldProblem(field, n);
  if (problem) fail(`${RATE_FIELDS[field].flag} ${problem}, got "${text}"`, 2);
  return String(n);
};

if (!(PROFILE_KINDS as readonly string[]).includes(args.values.profile))
  fail(`--profile must be one of ${PROFILE_KINDS.join(', ')}`, 2);
const query: Record<string, string | undefined> = {
  rate: option('rate', args.positionals[0]),
  profile: args.values.profile,
  stepRate: option('stepRate', args.values['step-rate']),
  periodS: option('periodS', args.values['period-s']),
  amplitude: option('amplitude', args.values.amplitude),
  burstRate: option('burstRate', args.values['burst-rate']),
  burstS: option('burstS', args.values['burst-s']),
};
const qs = new URLSearchParams(
  Object.entries(query).filter((e): e is [string, string] => e[1] !== undefined),
);

let res: Response;
try {
  res = await fetch(`${args.values.url.replace(/\/$/, '')}/rate?${qs}`, {
    method: 'PUT',
    headers: authHeader(local),
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
