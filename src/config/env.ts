/**
 * The only place that reads process.env. Each reader names the variable in its error so that a bad
 * deployment stops with one line saying what to fix.
 */
export class InvalidEnvironmentError extends Error {
  constructor(variable: string, problem: string) {
    super(`Invalid environment variable ${variable}: ${problem}`);
    this.name = 'InvalidEnvironmentError';
  }
}

/** Every invalid variable at once, one line each: what validateEnvironment() throws. */
export class InvalidEnvironmentErrors extends Error {
  constructor(readonly errors: InvalidEnvironmentError[]) {
    super(errors.map((error) => error.message).join('\n'));
    this.name = 'InvalidEnvironmentErrors';
  }
}

type Source = Record<string, string | undefined>;

/** While collecting (validateEnvironment), problems are gathered instead of thrown. */
let collecting: InvalidEnvironmentError[] | undefined;

/** Reports a bad variable: throws, or, while collecting, records it and goes on with `fallback`. */
export function invalidVariable<T>(
  name: string,
  problem: string,
  fallback: T,
): T {
  const error = new InvalidEnvironmentError(name, problem);
  if (!collecting) throw error;
  collecting.push(error);
  return fallback;
}

/**
 * Runs each reader and returns every invalid variable they met (a reader that still throws stops
 * only itself), so that a bad deployment learns all it must fix in one go.
 */
export function collectInvalidVariables(
  readers: (() => unknown)[],
): InvalidEnvironmentError[] {
  const found: InvalidEnvironmentError[] = [];
  collecting = found;
  try {
    for (const read of readers) {
      try {
        read();
      } catch (error) {
        if (!(error instanceof InvalidEnvironmentError)) throw error;
        found.push(error);
      }
    }
  } finally {
    collecting = undefined;
  }
  return found;
}

/** Under the test runner, the environment comes from the tests alone (no .env file). */
export function isTestRun(source: Source = process.env): boolean {
  return source.NODE_ENV === 'test';
}

function raw(source: Source, name: string): string | undefined {
  const value = source[name];
  return value === undefined || value.trim() === '' ? undefined : value.trim();
}

export function requiredString(
  name: string,
  check?: (value: string) => string | undefined,
  source: Source = process.env,
): string {
  const value = raw(source, name);
  if (value === undefined) return invalidVariable(name, 'must be set', '');
  const problem = check?.(value);
  if (problem) return invalidVariable(name, problem, value);
  return value;
}

export function optionalString(
  name: string,
  fallback: string,
  source: Source = process.env,
): string {
  return raw(source, name) ?? fallback;
}

export function optionalInt(
  name: string,
  fallback: number,
  { min, max }: { min: number; max: number },
  source: Source = process.env,
): number {
  const value = raw(source, name);
  if (value === undefined) return fallback;
  if (!/^-?\d+$/.test(value))
    return invalidVariable(name, `"${value}" is not an integer`, fallback);
  const parsed = Number(value);
  if (parsed < min || parsed > max)
    return invalidVariable(
      name,
      `${parsed} is outside ${min}..${max}`,
      fallback,
    );
  return parsed;
}

export function optionalBool(
  name: string,
  fallback: boolean,
  source: Source = process.env,
): boolean {
  const value = raw(source, name)?.toLowerCase();
  if (value === undefined) return fallback;
  if (value === 'true' || value === '1') return true;
  if (value === 'false' || value === '0') return false;
  return invalidVariable(name, `"${value}" is not true or false`, fallback);
}

/** A URL check naming the protocols it accepts and, when it fails, an example of the expected form. */
export function urlWithProtocols(protocols: string[], example: string) {
  return (value: string): string | undefined => {
    let url: URL;
    try {
      url = new URL(value);
    } catch {
      return `is not a URL; expected the form ${example}`;
    }
    // "localhost:6379" parses as a URL whose protocol is "localhost:".
    return protocols.includes(url.protocol)
      ? undefined
      : `must start with ${protocols.map((p) => `${p}//`).join(' or ')}, as in ${example}`;
  };
}
