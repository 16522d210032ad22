import Ajv2020, { type ValidateFunction } from 'ajv/dist/2020';
import addFormats from 'ajv-formats';
import { loadOpenApiDocument } from '../../functions/http/openapi-route';

/**
 * Checks real HTTP exchanges against docs/openapi.yaml: the operation and the status must be
 * documented, the documented required headers present, and the body valid against the
 * documented schema (JSON Schema 2020-12, as OpenAPI 3.1 uses it, through Ajv).
 */
type Json = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

const BASE = 'https://cloudlite.test/openapi.json';

export interface Exchange {
  method: string;
  path: string;
  status: number;
  headers: Headers;
  body: string;
}

export function openApiContract() {
  const document = loadOpenApiDocument() as Json;
  const ajv = new Ajv2020({ strict: false, allErrors: true });
  addFormats(ajv);
  // Refs inside the document are relative to it; make them absolute so any part compiles alone.
  ajv.addSchema({ ...absoluteRefs(document), $id: BASE });
  const compiled = new Map<unknown, ValidateFunction>();
  const resolve = (node: Json): Json => (typeof node?.$ref === 'string' ? resolve(pointer(document, node.$ref)) : node);

  return {
    document,
    /** The problems of one exchange; empty when it matches the document. */
    check(exchange: Exchange): string[] {
      const where = `${exchange.method} ${exchange.path} -> ${exchange.status}`;
      const operation = document.paths?.[templateOf(document, exchange.path)]?.[exchange.method.toLowerCase()];
      if (!operation) return [`${where}: the operation is not documented`];
      const documented = operation.responses?.[String(exchange.status)] ?? operation.responses?.default;
      if (!documented) return [`${where}: the status is not documented`];
      const response = resolve(documented);
      const problems: string[] = [];
      for (const [name, header] of Object.entries<Json>(response.headers ?? {})) {
        if (resolve(header).required && !exchange.headers.has(name)) problems.push(`${where}: header ${name} is missing`);
      }
      const content: Json | undefined = response.content;
      if (!content) {
        if (exchange.body !== '') problems.push(`${where}: a body is not documented`);
        return problems;
      }
      const mediaType = (exchange.headers.get('content-type') ?? '').split(';')[0]!.trim();
      const schema = content[mediaType]?.schema;
      if (!schema) return [...problems, `${where}: content type "${mediaType}" is not documented`];
      // Files and SQL text are documented by media type; only JSON bodies have a shape to check.
      if (!mediaType.endsWith('json')) return problems;
      let validate = compiled.get(schema);
      if (!validate) compiled.set(schema, (validate = ajv.compile(absoluteRefs(schema))));
      if (!validate(JSON.parse(exchange.body))) problems.push(`${where}: ${ajv.errorsText(validate.errors)} in ${exchange.body.slice(0, 300)}`);
      return problems;
    },
  };
}

/** The documented path a concrete one matches (`/databases/shop/versions` -> `/databases/{name}/versions`). */
function templateOf(document: Json, concrete: string): string {
  const path = concrete.split('?')[0]!;
  return Object.keys(document.paths ?? {}).find((template) => new RegExp(`^${template.replace(/\{[^}]+\}/g, '[^/]+')}$`).test(path)) ?? path;
}

function absoluteRefs(node: unknown): any { // eslint-disable-line @typescript-eslint/no-explicit-any
  if (Array.isArray(node)) return node.map(absoluteRefs);
  if (node === null || typeof node !== 'object') return node;
  return Object.fromEntries(
    Object.entries(node).map(([key, value]) => [key, key === '$ref' && typeof value === 'string' && value.startsWith('#') ? `${BASE}${value}` : absoluteRefs(value)]),
  );
}

function pointer(document: Json, ref: string): Json {
  return ref
    .replace(/^#\//, '')
    .split('/')
    .reduce((node: Json, part) => node?.[part.replace(/~1/g, '/').replace(/~0/g, '~')], document);
}
