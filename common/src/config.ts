import { config as readDotenv } from 'dotenv';
import { z } from 'zod';

/**
 * Environment-driven configuration. Every service declares its variables with the helpers below; each helper
 * records a human description of what is allowed, so a bad value produces a message that names the variable,
 * the value and the rule (and the process exits with code 2).
 */

export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`invalid configuration:\n  - ${problems.join('\n  - ')}`);
    this.name = 'ConfigError';
  }
}

export const CONFIG_EXIT_CODE = 2;

type Shape = Record<string, z.ZodType>;

const allowed = new WeakMap<z.ZodType, string>();

function rule<T extends z.ZodType>(schema: T, description: string): T {
  allowed.set(schema, description);
  return schema;
}

const numberText = /^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$/;

function number(description: string, check: (n: number) => boolean) {
  return z
    .string()
    .trim()
    .refine((s) => numberText.test(s), 'not a number')
    .transform(Number)
    .refine(check, description);
}

export const env = {
  int(def: number, min: number, max = Number.MAX_SAFE_INTEGER) {
    const description = `an integer from ${min} to ${max}`;
    return rule(
      number(description, (n) => Number.isInteger(n) && n >= min && n <= max).default(def),
      description,
    );
  },
  number(def: number, min: number, max = Number.MAX_VALUE) {
    const description = `a number from ${min} to ${max}`;
    return rule(number(description, (n) => n >= min && n <= max).default(def), description);
  },
  string(def: string) {
    return rule(z.string().min(1).default(def), 'a non-empty string');
  },
  optionalString() {
    return rule(z.string().min(1).optional(), 'a non-empty string, or unset');
  },
  url(def: string, protocols: string[]) {
    const description = `a URL starting with ${protocols.map((p) => `${p}//`).join(' or ')}`;
    const schema = z
      .string()
      .refine((s) => {
        try {
          return protocols.includes(new URL(s).protocol);
        } catch {
          return false;
        }
      }, description)
      .default(def);
    return rule(schema, description);
  },
  /** Comma-separated list of URLs (NATS accepts several seed servers). */
  urls(def: string, protocols: string[]) {
    const description = `comma-separated URLs starting with ${protocols.map((p) => `${p}//`).join(' or ')}`;
    const schema = z
      .string()
      .refine(
        (s) =>
          s.split(',').every((u) => {
            try {
              return protocols.includes(new URL(u.trim()).protocol);
            } catch {
              return false;
            }
          }),
        description,
      )
      .default(def);
    return rule(schema, description);
  },
  oneOf<const T extends readonly [string, ...string[]]>(def: T[number], values: T) {
    return rule(z.enum(values).default(def as never), `one of ${values.join(', ')}`);
  },
  bool(def: boolean) {
    const schema = z
      .enum(['true', 'false', '1', '0', 'yes', 'no'])
      .transform((s) => s === 'true' || s === '1' || s === 'yes')
      .default(def);
    return rule(schema as unknown as z.ZodType<boolean>, 'true or false');
  },
  /** A NATS subject token or stream/consumer name: no spaces, dots, wildcards or path separators. */
  name(def: string) {
    const description = 'letters, digits, "-" and "_" only (a valid NATS stream/consumer name)';
    return rule(
      z
        .string()
        .regex(/^[A-Za-z0-9_-]{1,64}$/, description)
        .default(def),
      description,
    );
  },
};

/** Parses `source` (normally process.env) against `shape`; empty strings count as unset. */
export function parseEnv<S extends Shape>(
  shape: S,
  source: NodeJS.ProcessEnv = process.env,
): z.output<z.ZodObject<S>> {
  const present: Record<string, string> = {};
  for (const key of Object.keys(shape)) {
    const value = source[key];
    if (value !== undefined && value !== '') present[key] = value;
  }
  const result = z.object(shape).safeParse(present);
  if (result.success) return result.data;
  const problems = result.error.issues.map((issue) => {
    const name = String(issue.path[0] ?? '?');
    const field = shape[name];
    const what = (field && allowed.get(field)) ?? issue.message;
    return `${name}=${JSON.stringify(present[name])} is invalid: expected ${what}`;
  });
  throw new ConfigError(problems);
}

/** A process's settings: the variables it reads (the schema) and how they become typed settings. */
export interface SettingsSpec<S extends Shape, T> {
  readonly shape: S;
  /** Validates `source` against the shape and builds the settings; throws a ConfigError naming every problem. */
  parse(source?: NodeJS.ProcessEnv): T;
}

export function defineSettings<S extends Shape, T>(
  shape: S,
  build: (e: z.output<z.ZodObject<S>>) => T,
): SettingsSpec<S, T> {
  return { shape, parse: (source = process.env) => build(parseEnv(shape, source)) };
}

/**
 * The one start-up path of every kvflow process: a `.env` file in the working directory fills in variables the
 * environment does not set, then the settings are validated and built. A bad value prints what to fix and exits
 * with code 2, the convention for "usage/configuration error" that process supervisors and scripts can tell
 * apart from a crash.
 */
export function loadSettings<S extends Shape, T>(
  spec: SettingsSpec<S, T>,
  service: string,
  source: NodeJS.ProcessEnv = process.env,
): T {
  if (source === process.env) readDotenv({ quiet: true });
  try {
    return spec.parse(source);
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(
        `${service}: ${err.message}\nSee .env.example for every setting and its default.\n`,
      );
      process.exit(CONFIG_EXIT_CODE);
    }
    throw err;
  }
}
