import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  createTestApp,
  newUser,
  send,
  TestApp,
  tokenFor,
} from './support/test-app';

interface Parameter {
  name: string;
  in: 'header' | 'query' | 'path';
  required?: boolean;
  example?: string | number;
  schema?: { example?: string | number };
}
interface Operation {
  parameters?: Parameter[];
  requestBody?: {
    required?: boolean;
    content: Record<
      string,
      { examples?: Record<string, { value: unknown }>; example?: unknown }
    >;
  };
  responses: Record<string, { content?: Record<string, { schema: Schema }> }>;
}
interface Schema {
  $ref?: string;
  properties?: Record<string, unknown>;
}
type Document = {
  paths: Record<string, Record<string, Operation>>;
  components: { schemas: Record<string, Schema> };
};

/** The order "Try it out" would send them in: creates first, so later calls have an id; deletes last. */
const METHOD_ORDER = ['post', 'get', 'patch', 'delete'];

describe('OpenAPI document: every documented example works as written', () => {
  let t: TestApp;
  let doc: Document;

  beforeAll(async () => {
    t = await createTestApp();
    doc = (await send(t.url, 'GET', '/docs-json')).body as Document;
  });
  afterAll(() => t.close());

  it('is the document the client is generated from: dist/openapi/write-openapi.js writes it without a database', () => {
    const dir = mkdtempSync(join(tmpdir(), 'openapi-'));
    try {
      const file = join(dir, 'openapi.json');
      execFileSync(process.execPath, ['dist/openapi/write-openapi.js', file], {
        env: { PATH: process.env.PATH },
        timeout: 20_000,
      });
      expect(JSON.parse(readFileSync(file, 'utf8'))).toEqual(doc);
      // And the committed copy the client's types come from is current (npm run client:types).
      expect(JSON.parse(readFileSync('client/openapi.json', 'utf8'))).toEqual(
        doc,
      );
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('types integers as integers, the note as a nullable string, and declares Retry-After', () => {
    const { schemas } = doc.components;
    const props = (name: string) =>
      schemas[name].properties as Record<string, Record<string, unknown>>;
    expect(props('OrderItemDto').quantity.type).toBe('integer');
    expect(props('OrderItemDto').unitPriceCents.type).toBe('integer');
    expect(props('OrderView').totalCents.type).toBe('integer');
    expect(props('CreateOrderDto').note).toMatchObject({
      type: 'string',
      nullable: true,
    });
    const list = doc.paths['/orders'].get.parameters!.find(
      (p) => p.name === 'limit',
    ) as unknown as { schema: { type: string } };
    expect(list.schema.type).toBe('integer');
    const create = doc.paths['/orders'].post.responses as Record<
      string,
      { headers?: Record<string, unknown> }
    >;
    expect(create['409'].headers).toHaveProperty('Retry-After');
    expect(create['429'].headers).toHaveProperty('Retry-After');
  });

  it('sends every operation with its documented examples and gets its documented 2xx status and fields', async () => {
    const token = tokenFor(newUser());
    const operations = Object.entries(doc.paths)
      .flatMap(([path, methods]) =>
        Object.entries(methods).map(([method, op]) => ({ path, method, op })),
      )
      .sort(
        (a, b) =>
          METHOD_ORDER.indexOf(a.method) - METHOD_ORDER.indexOf(b.method),
      );
    let createdId: string | undefined;
    const answered: string[] = [];
    for (const { path, method, op } of operations) {
      const headers: Record<string, string> = {};
      const query = new URLSearchParams();
      let url = path;
      for (const parameter of op.parameters ?? []) {
        const example = parameter.example ?? parameter.schema?.example;
        if (parameter.in === 'path')
          // An id the example run itself created: the document cannot know one in advance.
          url = url.replace(
            `{${parameter.name}}`,
            String(example ?? createdId),
          );
        else if (example !== undefined && parameter.in === 'header')
          headers[parameter.name] = String(example);
        else if (example !== undefined)
          query.set(parameter.name, String(example));
      }
      const bodies = requestExamples(op);
      if (op.requestBody?.required !== false && op.requestBody)
        expect(bodies.length).toBeGreaterThan(0);
      // A required header no example can fill (a webhook's signature) makes the documented answer
      // to the example its documented 401, not its 2xx.
      const unsigned = (op.parameters ?? []).some(
        (p) =>
          p.in === 'header' &&
          p.required &&
          (p.example ?? p.schema?.example) === undefined,
      );
      const [status, response] = unsigned
        ? ['401', op.responses['401']]
        : Object.entries(op.responses).find(([code]) => code.startsWith('2'))!;
      expect(response).toBeDefined();
      for (const body of bodies.length ? bodies : [undefined]) {
        const target = query.size ? `${url}?${query.toString()}` : url;
        const sent = await send(t.url, method.toUpperCase(), target, {
          token,
          headers,
          body,
        });
        // The error body, if any, says what the example got wrong.
        const error = sent.status >= 400 && !unsigned ? sent.body : undefined;
        expect({
          route: `${method} ${path}`,
          status: sent.status,
          error,
        }).toEqual({
          route: `${method} ${path}`,
          status: Number(status),
          error: undefined,
        });
        expectDocumentedFields(sent.body, response.content);
        answered.push(`${method} ${path}`);
        if (unsigned) continue;
        if (method === 'post' && path === '/orders')
          createdId = (sent.body as { id: string }).id;
      }
    }
    expect(answered).toEqual(
      expect.arrayContaining([
        'post /orders',
        'get /orders',
        'get /orders/{id}',
        'patch /orders/{id}',
        'delete /orders/{id}',
        'get /health/ready',
        'post /webhooks/payments',
      ]),
    );
  });

  function requestExamples(op: Operation): unknown[] {
    const content = op.requestBody?.content['application/json'];
    if (!content) return [];
    if (content.examples)
      return Object.values(content.examples).map((e) => e.value);
    return content.example === undefined ? [] : [content.example];
  }

  function expectDocumentedFields(
    body: unknown,
    content: Record<string, { schema: Schema }> | undefined,
  ): void {
    const ref = content?.['application/json']?.schema.$ref;
    if (!ref) return;
    const schema = doc.components.schemas[ref.split('/').pop()!];
    expect(Object.keys(body as object).sort()).toEqual(
      Object.keys(schema.properties ?? {}).sort(),
    );
  }
});
