/**
 * The wire vocabulary every operation of the local S3 server speaks: the decoded request, the
 * reply, S3's error shape and the XML it is written in.
 */

import type { Ticket } from './conditions';

export type Headers = Record<string, string>;

/** One HTTP request, decoded once at the edge (see server.ts). */
export interface Request {
  method: string;
  bucket?: string;
  key?: string;
  /** The path exactly as it arrived, still percent-encoded: signatures are computed over it. */
  rawPath: string;
  query: URLSearchParams;
  /** The query string exactly as it arrived (without `?`). */
  rawQuery: string;
  header(name: string): string | undefined;
  headersRaw(): Headers;
  body: Buffer;
  /** A conditional PUT's place among the uploads of its key (see conditions.ts). */
  ticket?: Ticket;
}

export interface Reply {
  status: number;
  headers?: Headers;
  body?: Buffer | string;
}

export class S3Error extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly fields: Record<string, string> = {},
    readonly headers: Headers = {},
  ) {
    super(message);
    this.name = 'S3Error';
  }
}

export const noSuchBucket = (name: string) =>
  new S3Error(404, 'NoSuchBucket', 'The specified bucket does not exist', { BucketName: name });
export const noSuchKey = (key: string, headers: Headers = {}) =>
  new S3Error(404, 'NoSuchKey', 'The specified key does not exist.', { Key: key }, headers);
export const preconditionFailed = (condition: string) =>
  new S3Error(412, 'PreconditionFailed', 'At least one of the pre-conditions you specified did not hold', { Condition: condition });
export const notImplemented = (what: string) =>
  new S3Error(501, 'NotImplemented', `${what} is not implemented by the local S3 server`);
export const invalidArgument = (message: string, fields: Record<string, string> = {}) =>
  new S3Error(400, 'InvalidArgument', message, fields);

const XMLNS = 'http://s3.amazonaws.com/doc/2006-03-01/';
export const OWNER = '<Owner><ID>local-s3</ID></Owner>';

const esc = (s: string) => s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
export const el = (name: string, value: string | number | boolean) => `<${name}>${esc(String(value))}</${name}>`;
export const xmlDoc = (root: string, inner: string, ns = true) =>
  `<?xml version="1.0" encoding="UTF-8"?>\n<${root}${ns ? ` xmlns="${XMLNS}"` : ''}>${inner}</${root}>`;
export const xmlReply = (root: string, inner: string): Reply => ({ status: 200, body: xmlDoc(root, inner) });
/** S3 dates are whole seconds ("2026-11-30T12:00:41.000Z"): two writes in one second tie, here as there. */
export const isoDate = (ms: number) => new Date(ms - (ms % 1000)).toISOString();

export function errorReply(err: S3Error, resource: string, requestId: string): Reply {
  const fields = Object.entries(err.fields).map(([k, v]) => el(k, v)).join('');
  const inner = el('Code', err.code) + el('Message', err.message) + fields + el('Resource', resource) + el('RequestId', requestId);
  return { status: err.status, headers: err.headers, body: xmlDoc('Error', inner, false) };
}

export function decodeUri(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    throw new S3Error(400, 'InvalidURI', 'Couldn\'t parse the specified URI.');
  }
}

/** S3 orders keys by their UTF-8 bytes; JS string comparison (UTF-16 units) differs above U+E000. */
export const compareKeys = (a: string, b: string) => Buffer.compare(Buffer.from(a), Buffer.from(b));
