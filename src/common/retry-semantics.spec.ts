import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { retrySemanticsTable } from './retry-semantics';

describe('the retry table', () => {
  it('is the same in the README as in the code (and so in the OpenAPI description)', () => {
    const readme = readFileSync(
      join(__dirname, '..', '..', 'README.md'),
      'utf8',
    );
    expect(readme).toContain(retrySemanticsTable());
  });
});
