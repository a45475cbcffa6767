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

type Source = Record<string, string | undefined>;

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
  if (value === undefined)
    throw new InvalidEnvironmentError(name, 'must be set');
  const problem = check?.(value);
  if (problem) throw new InvalidEnvironmentError(name, problem);
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
    throw new InvalidEnvironmentError(name, `"${value}" is not an integer`);
  const parsed = Number(value);
  if (parsed < min || parsed > max) {
    throw new InvalidEnvironmentError(
      name,
      `${parsed} is outside ${min}..${max}`,
    );
  }
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
  throw new InvalidEnvironmentError(name, `"${value}" is not true or false`);
}

export function urlWithProtocols(...protocols: string[]) {
  return (value: string): string | undefined => {
    try {
      const url = new URL(value);
      return protocols.includes(url.protocol)
        ? undefined
        : `protocol must be one of ${protocols.join(', ')}`;
    } catch {
      return 'is not a valid URL';
    }
  };
}
