#!/usr/bin/env node
import { parseArgs } from 'node:util';
import {
  env,
  loadSettings,
  PROFILE_KINDS,
  type ProfileSettings,
  RATE_FIELD_NAMES,
  RATE_FIELDS,
  type RateField,
} from '@kvflow/common';
import { authHeader, localSettings } from './local-env.js';

/**
 * `npm run rate -- 500` / `npm run rate -- --profile burst --burst-rate 800 --burst-s 10 --period-s 30 50`:
 * changes the running producer's rate generator at once (the local counterpart of `task update-rate`).
 */
const local = loadSettings(localSettings, 'rate');

/**
 * The options each profile uses: those it needs (their default, 0, would make it a constant rate) and those with a
 * sensible default. Any other option is refused, not silently ignored.
 */
type OptionField = Exclude<RateField, 'rate'>;
const PROFILE_OPTIONS: Record<ProfileSettings['profile'], { needs: OptionField[]; may: OptionField[] }> = {
  constant: { needs: [], may: [] },
  step: { needs: ['stepRate'], may: ['periodS'] },
  sine: { needs: ['amplitude'], may: ['periodS'] },
  burst: { needs: ['burstRate'], may: ['burstS', 'periodS'] },
};
const needed = (f: OptionField) => PROFILE_KINDS.some((k) => PROFILE_OPTIONS[k].needs.includes(f));
const fieldHelp = RATE_FIELD_NAMES.map((f) => {
  const r = RATE_FIELDS[f];
  const also = f === 'rate' || needed(f) ? '' : `, default ${r.default}`;
  return `  ${r.flag.padEnd(16)}  ${r.description} (${r.min}..${r.max}${also})`;
}).join('\n');
const profileHelp = PROFILE_KINDS.map((k) => {
  const needs = PROFILE_OPTIONS[k].needs.map((f) => RATE_FIELDS[f].flag);
  return needs.length > 0 ? `${k} (needs ${needs.join(', ')})` : `${k} (default)`;
}).join(',\n                    ');
const HELP = `npm run rate -- RATE [options]

${fieldHelp}
  --profile P       ${profileHelp}
  --url URL         producer (default PRODUCER_URL: ${local.producerUrl})
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

/** The value-taking options, as typed (`--step-rate`), for telling a negative number from an option. */
const VALUE_FLAGS = new Set(
  Object.entries(spec)
    .filter(([, o]) => o.type === 'string')
    .map(([name]) => `--${name}`),
);
/**
 * A negative number is a value, not an option: `-5` (the rate) or `--step-rate -5` reach the rules below and are
 * refused by them, rather than by the parser as an unknown option.
 */
function numbersAsValues(argv: string[]): string[] {
  const out: string[] = [];
  const values: string[] = [];
  for (const [i, a] of argv.entries()) {
    if (a === '--') {
      out.push(...argv.slice(i));
      break;
    }
    const prev = out.at(-1);
    if (/^-[\d.]/.test(a) && prev !== undefined && VALUE_FLAGS.has(prev))
      out[out.length - 1] = `${prev}=${a}`;
    else if (/^-[\d.]/.test(a)) values.push(a);
    else out.push(a);
  }
  return values.length > 0 ? [...out, ...(out.includes('--') ? [] : ['--']), ...values] : out;
}

let args: ReturnType<typeof parseArgs<{ options: typeof spec; allowPositionals: true }>>;
try {
  args = parseArgs({ args: numbersAsValues(process.argv.slice(2)), options: spec, allowPositionals: true });
} catch (err) {
  fail((err as Error).message, 2);
}
if (args.values.help) {
  process.stdout.write(`${HELP}\n`);
  process.exit(0);
}
if (args.positionals.length !== 1) fail('give exactly one RATE (events/s), e.g. npm run rate -- 500', 2);

/**
 * The producer's own rule for each setting (its environment variables are read with the same field from the same
 * bounds), so a value is taken here exactly when RATE=… would be: decimal numbers only, within RATE_FIELDS.
 */
const option = (field: RateField, text: string | undefined): string | undefined => {
  if (text === undefined) return undefined;
  const r = RATE_FIELDS[field];
  const rule = env.number(r.default, r.min, r.max);
  const n = rule.read(text);
  if (typeof n !== 'number') fail(`${r.flag} must be ${rule.description}, got ${JSON.stringify(text)}`, 2);
  return String(n);
};

const profile = args.values.profile;
if (!(PROFILE_KINDS as readonly string[]).includes(profile))
  fail(`--profile must be one of ${PROFILE_KINDS.join(', ')}, got ${JSON.stringify(profile)}`, 2);
const kind = profile as ProfileSettings['profile'];

const given: Record<OptionField, string | undefined> = {
  stepRate: args.values['step-rate'],
  periodS: args.values['period-s'],
  amplitude: args.values.amplitude,
  burstRate: args.values['burst-rate'],
  burstS: args.values['burst-s'],
};
for (const [field, text] of Object.entries(given) as Array<[OptionField, string | undefined]>) {
  const { needs, may } = PROFILE_OPTIONS[kind];
  if (text === undefined || needs.includes(field) || may.includes(field)) continue;
  const users = PROFILE_KINDS.filter((k) =>
    [...PROFILE_OPTIONS[k].needs, ...PROFILE_OPTIONS[k].may].includes(field),
  );
  fail(`${RATE_FIELDS[field].flag} needs --profile ${users.join(' or ')} (the profile is ${kind})`, 2);
}
for (const field of PROFILE_OPTIONS[kind].needs)
  if (given[field] === undefined)
    fail(`--profile ${kind} needs ${RATE_FIELDS[field].flag} (${RATE_FIELDS[field].description})`, 2);

const query: Record<string, string | undefined> = {
  rate: option('rate', args.positionals[0]),
  profile: kind,
  ...Object.fromEntries(
    (Object.entries(given) as Array<[OptionField, string | undefined]>).map(([f, text]) => [
      f,
      option(f, text),
    ]),
  ),
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
