import type { MiddlewareObj } from '@middy/core';
import httpJsonBodyParser from '@middy/http-json-body-parser';
import type { APIGatewayProxyEventV2 } from 'aws-lambda';
import { BadRequestError, PayloadTooLargeError, UnsupportedMediaTypeError } from '../core/errors';

/**
 * The one request body reader of the routes that take a body. In order: size (413), content
 * type (415), empty, strict UTF-8 (invalid bytes are refused, never replaced), then JSON through
 * `@middy/http-json-body-parser`, whose errors become our 400 BAD_REQUEST.
 *
 * Which body is which (POST /sql; the JSON-only routes take only the JSON cases):
 * - `application/json` (or `+json`): JSON.
 * - `application/sql`, `text/plain`: the body is the SQL text itself.
 * - `application/x-www-form-urlencoded` (curl's default for `-d`): decided by the first bytes,
 *   after leading whitespace: `{` is JSON; `sql_statement=` is a form (URL-decoded, so `+` is a
 *   space); anything else is the SQL text itself. SQL can start with neither, so the rule
 *   never misreads a body that works as the other kind.
 * - anything else, or no content type: 415.
 *
 * The middy parser sees only the JSON cases: it runs on the strictly decoded text (we mark the
 * event as plain text and JSON-typed), and skips every other content type.
 */

export type RequestBody =
  | { kind: 'json'; value: unknown }
  | { kind: 'sql'; sql: string }
  | { kind: 'form'; fields: [string, string][] }
  | { kind: 'file'; bytes: Uint8Array };

export interface BodyOptions {
  maxBytes: number;
  /** Raw SQL and forms are accepted too (POST /sql); otherwise only JSON. */
  rawSql: boolean;
  /** A database file is accepted too, as bytes, and a SQL dump as text (POST /databases/{name}/import). */
  files?: boolean;
}

/** The media types of a SQLite database file. */
const FILE_TYPES = new Set(['application/vnd.sqlite3', 'application/x-sqlite3', 'application/octet-stream']);

type Event = APIGatewayProxyEventV2;
type Middleware = MiddlewareObj<Event>;

const JSON_TYPE = /^application\/(?:[\w.+-]+\+)?json$/;
const SQL_TYPES = new Set(['application/sql', 'text/plain']);
const FORM_TYPE = 'application/x-www-form-urlencoded';
const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: false });

/** The parsed body of each event: the JSON value stays on `event.body`, where middy puts it. */
const bodies = new WeakMap<object, RequestBody | 'json'>();

export function parsedBody(event: Event): RequestBody {
  const body = bodies.get(event);
  if (body === undefined) throw new Error('parsedBody: the route has no body parser');
  return body === 'json' ? { kind: 'json', value: event.body as unknown } : body;
}

/** The middlewares, in the order they run; `httpHandler` adds them after the header normalizer. */
export function bodyParser(options: BodyOptions): Middleware[] {
  const guard: Middleware = {
    before: async (request) => {
      readBody(request.event, options);
    },
  };
  const middyParser = httpJsonBodyParser<Event>({ disableContentTypeError: true });
  const json: Middleware = {
    before: async (request) => {
      if (bodies.get(request.event) !== 'json') return;
      try {
        await middyParser.before!(request);
      } catch (error) {
        const reason = (error as { cause?: { message?: string } }).cause?.message;
        throw new BadRequestError(`request body is not valid JSON${reason ? `: ${reason}` : ''}`, { cause: error });
      }
    },
  };
  return [guard, json];
}

function readBody(event: Event, options: BodyOptions): void {
  const bytes = event.body == null ? Buffer.alloc(0) : Buffer.from(event.body, event.isBase64Encoded ? 'base64' : 'utf8');
  if (bytes.byteLength > options.maxBytes) throw new PayloadTooLargeError(`request body is ${bytes.byteLength} bytes; the limit is ${options.maxBytes}`);
  const mediaType = (event.headers?.['content-type'] ?? '').split(';')[0]!.trim().toLowerCase();
  const family = JSON_TYPE.test(mediaType) ? 'json' : (options.rawSql || options.files) && SQL_TYPES.has(mediaType) ? 'sql' : mediaType === FORM_TYPE ? 'form' : undefined;
  if (!family && options.files && FILE_TYPES.has(mediaType)) {
    // Bytes as they came: a database file is not text (API Gateway sends it base64-encoded).
    bodies.set(event, { kind: 'file', bytes: new Uint8Array(bytes) });
    return;
  }
  if (!family) throw new UnsupportedMediaTypeError(acceptedTypes(options));
  if (bytes.byteLength === 0) throw new BadRequestError(`request body is empty; ${acceptedTypes(options)}`);
  let text: string;
  try {
    text = utf8.decode(bytes);
  } catch {
    throw new BadRequestError(`request body is not valid UTF-8${options.files ? '; a database file is sent as "Content-Type: application/vnd.sqlite3"' : ''}`);
  }
  const kind = family === 'form' ? sniffForm(text, options) : family;
  if (kind === 'json') {
    event.body = text;
    event.isBase64Encoded = false;
    event.headers['content-type'] = 'application/json';
    bodies.set(event, 'json');
  } else if (kind === 'sql') {
    bodies.set(event, { kind: 'sql', sql: text });
  } else {
    bodies.set(event, { kind: 'form', fields: [...new URLSearchParams(text.trimStart())] }); // sniffed after leading white space, so parsed after it too
  }
}

/** curl's default content type: see the rule at the top of this file. */
function sniffForm(text: string, options: BodyOptions): RequestBody['kind'] {
  const start = text.trimStart();
  if (start.startsWith('{') || (!options.rawSql && start.startsWith('['))) return 'json';
  if (!options.rawSql) throw new UnsupportedMediaTypeError(acceptedTypes(options));
  return start.startsWith('sql_statement=') ? 'form' : 'sql';
}

function acceptedTypes(options: BodyOptions): string {
  if (options.rawSql) return 'send JSON ("Content-Type: application/json"), or the SQL text itself ("Content-Type: application/sql" or "text/plain")';
  if (options.files) return 'send the database file as "Content-Type: application/vnd.sqlite3", a SQL dump as "Content-Type: application/sql", or JSON {"upload": true} / {"staged": "<key>", "format"?: "sqlite" | "sql"}';
  return 'send the request body as JSON with "Content-Type: application/json"';
}
