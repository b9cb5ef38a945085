import { config as readDotenv } from 'dotenv';

/**
 * Environment-driven configuration. Every service declares its variables with the helpers below; each helper
 * carries a human description of what is allowed, so a bad value produces a message that names the variable,
 * the value and the rule (and the process exits with code 2).
 *
 * Hand-written rather than schema-library based: these ten rules are all a process's start-up needs, and a schema
 * library was a quarter of a worker's start (zod's import took 60-90 ms of about 250 ms to /readyz).
 */

export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`invalid configuration:\n  - ${problems.join('\n  - ')}`);
    this.name = 'ConfigError';
  }
}

export const CONFIG_EXIT_CODE = 2;

/** One variable: what it may be, and how its text (undefined when unset or empty) becomes a value. */
export interface Field<T> {
  readonly description: string;
  /** The value, or `invalid` when the text breaks the rule. */
  read(text: string | undefined): T | typeof invalid;
}

const invalid: unique symbol = Symbol('invalid');

type Shape = Record<string, Field<unknown>>;

/** The typed values of a shape's variables. */
export type EnvValues<S extends Shape> = { [K in keyof S]: S[K] extends Field<infer T> ? T : never };

function field<T>(description: string, def: T, parse: (text: string) => T | typeof invalid): Field<T> {
  return { description, read: (text) => (text === undefined ? def : parse(text)) };
}

const numberText = /^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$/;

function number(description: string, def: number, check: (n: number) => boolean): Field<number> {
  return field(description, def, (text) => {
    const t = text.trim();
    if (!numberText.test(t)) return invalid;
    const n = Number(t);
    return check(n) ? n : invalid;
  });
}

function hasProtocol(protocols: string[], url: string): boolean {
  try {
    return protocols.includes(new URL(url).protocol);
  } catch {
    return false;
  }
}

const BOOLEANS: Record<string, boolean> = {
  true: true,
  false: false,
  1: true,
  0: false,
  yes: true,
  no: false,
};
const NAME = /^[A-Za-z0-9_-]{1,64}$/;

export const env = {
  int(def: number, min: number, max = Number.MAX_SAFE_INTEGER): Field<number> {
    return number(
      `an integer from ${min} to ${max}`,
      def,
      (n) => Number.isInteger(n) && n >= min && n <= max,
    );
  },
  number(def: number, min: number, max = Number.MAX_VALUE): Field<number> {
    return number(`a number from ${min} to ${max}`, def, (n) => n >= min && n <= max);
  },
  string(def: string): Field<string> {
    return field('a non-empty string', def, (text) => text);
  },
  optionalString(): Field<string | undefined> {
    return field<string | undefined>('a non-empty string, or unset', undefined, (text) => text);
  },
  url(def: string, protocols: string[]): Field<string> {
    const description = `a URL starting with ${protocols.map((p) => `${p}//`).join(' or ')}`;
    return field(description, def, (text) => (hasProtocol(protocols, text) ? text : invalid));
  },
  /** Comma-separated list of URLs (NATS accepts several seed servers). */
  urls(def: string, protocols: string[]): Field<string> {
    const description = `comma-separated URLs starting with ${protocols.map((p) => `${p}//`).join(' or ')}`;
    return field(description, def, (text) =>
      text.split(',').every((u) => hasProtocol(protocols, u.trim())) ? text : invalid,
    );
  },
  oneOf<const T extends readonly [string, ...string[]]>(def: T[number], values: T): Field<T[number]> {
    return field(`one of ${values.join(', ')}`, def, (text) =>
      (values as readonly string[]).includes(text) ? (text as T[number]) : invalid,
    );
  },
  bool(def: boolean): Field<boolean> {
    return field('true or false', def, (text) =>
      Object.hasOwn(BOOLEANS, text) ? (BOOLEANS[text] as boolean) : invalid,
    );
  },
  /** A NATS subject token or stream/consumer name: no spaces, dots, wildcards or path separators. */
  name(def: string): Field<string> {
    const description = 'letters, digits, "-" and "_" only (a valid NATS stream/consumer name)';
    return field(description, def, (text) => (NAME.test(text) ? text : invalid));
  },
};

/** Parses `source` (normally process.env) against `shape`; empty strings count as unset. */
export function parseEnv<S extends Shape>(shape: S, source: NodeJS.ProcessEnv = process.env): EnvValues<S> {
  const values: Record<string, unknown> = {};
  const problems: string[] = [];
  for (const [name, f] of Object.entries(shape)) {
    const text = source[name] === '' ? undefined : source[name];
    const value = f.read(text);
    if (value === invalid)
      problems.push(`${name}=${JSON.stringify(text)} is invalid: expected ${f.description}`);
    else if (value !== undefined) values[name] = value;
  }
  if (problems.length > 0) throw new ConfigError(problems);
  return values as EnvValues<S>;
}

/** A process's settings: the variables it reads (the schema) and how they become typed settings. */
export interface SettingsSpec<S extends Shape, T> {
  readonly shape: S;
  /** Validates `source` against the shape and builds the settings; throws a ConfigError naming every problem. */
  parse(source?: NodeJS.ProcessEnv): T;
}

export function defineSettings<S extends Shape, T>(
  shape: S,
  build: (e: EnvValues<S>) => T,
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
