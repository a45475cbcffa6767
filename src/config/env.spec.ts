import {
  InvalidEnvironmentError,
  optionalBool,
  optionalInt,
  requiredString,
  urlWithProtocols,
} from './env';

describe('environment readers', () => {
  it('name the variable in one line when it is missing or malformed', () => {
    expect(() => requiredString('JWT_SECRET', undefined, {})).toThrow(
      'Invalid environment variable JWT_SECRET: must be set',
    );
    expect(() =>
      requiredString(
        'DATABASE_URL',
        urlWithProtocols(['postgres:'], 'postgres://host/db'),
        { DATABASE_URL: 'mysql://x' },
      ),
    ).toThrow(
      'Invalid environment variable DATABASE_URL: must start with postgres://, as in postgres://host/db',
    );
    expect(() =>
      optionalInt('PORT', 3000, { min: 0, max: 65535 }, { PORT: '3e3' }),
    ).toThrow(InvalidEnvironmentError);
    expect(() =>
      optionalInt('PORT', 3000, { min: 0, max: 65535 }, { PORT: '70000' }),
    ).toThrow(/outside 0..65535/);
    expect(() =>
      optionalBool('DB_MIGRATIONS_RUN', true, { DB_MIGRATIONS_RUN: 'yes' }),
    ).toThrow(/DB_MIGRATIONS_RUN/);
  });

  it('apply defaults and parse valid values', () => {
    expect(optionalInt('PORT', 3000, { min: 0, max: 65535 }, {})).toBe(3000);
    expect(
      optionalInt('PORT', 3000, { min: 0, max: 65535 }, { PORT: '8080' }),
    ).toBe(8080);
    expect(optionalBool('X', true, { X: 'false' })).toBe(false);
  });
});
