/**
 * Browser-style form upload (POST Object, what `createPresignedPost` prepares): a
 * multipart/form-data body whose fields carry a base64 policy signed with SigV4, and a `file`
 * part. S3's order of checks: the signature, the policy's expiry, every condition against the
 * fields, no field the policy does not cover, then `content-length-range` against the file.
 * The object is then stored like a PUT (versioned, with Content-Type and x-amz-meta-* fields).
 */
import { createHash } from 'node:crypto';
import type { Bucket, Store } from './store';
import { parseAmzDate, parseScope, sign, signatureMatches, type Credentials } from './sigv4';
import { STORED_HEADERS, writeVersion, writtenHeaders } from './objects';
import { el, invalidArgument, notImplemented, S3Error, xmlDoc, type Headers, type Reply, type Request } from './protocol';

interface FormUpload {
  /** Field name (lowercased, as S3 matches them) -> value; only the fields before the file. */
  fields: Map<string, string>;
  file: { filename: string; content: Buffer } | undefined;
}

type Condition = Record<string, unknown> | unknown[];

const policyDenied = (why: string) => new S3Error(403, 'AccessDenied', `Invalid according to Policy: ${why}`);
const invalidPolicy = (why: string) => new S3Error(400, 'InvalidPolicyDocument', `Invalid Policy: ${why}`);
const missingField = (name: string) =>
  invalidArgument(`Bucket POST must contain a field named '${name}'.  If it is specified, please check the order of the fields.`,
    { ArgumentName: name, ArgumentValue: '' });
// Fields that are the signature's envelope rather than input the policy must allow.
const UNCHECKED_FIELDS = new Set(['policy', 'x-amz-signature', 'file']);

export const isFormUpload = (r: Request) => /^multipart\/form-data\b/i.test(r.header('content-type') ?? '');

export function postObject(store: Store, known: Credentials, r: Request, bucket: Bucket): Reply {
  const { fields, file } = parseForm(r);
  const field = (name: string) => fields.get(name.toLowerCase());
  for (const name of ['key', 'Policy', 'X-Amz-Signature', 'X-Amz-Credential', 'X-Amz-Algorithm', 'X-Amz-Date']) {
    if (field(name) === undefined) throw missingField(name);
  }
  if (!file) {
    throw invalidArgument('POST requires exactly one file upload per request.', { ArgumentName: 'file', ArgumentValue: '0' });
  }
  const policyBase64 = field('policy')!;
  const scope = parseScope(field('x-amz-credential')!, known, (message) => invalidArgument(message));
  if (field('x-amz-algorithm') !== 'AWS4-HMAC-SHA256') throw invalidArgument('X-Amz-Algorithm only supports "AWS4-HMAC-SHA256"');
  if (parseAmzDate(field('x-amz-date')!) === undefined) throw invalidArgument('X-Amz-Date must be in the ISO8601 Long Format');
  if (!signatureMatches(sign(scope, policyBase64), field('x-amz-signature')!)) {
    throw new S3Error(403, 'SignatureDoesNotMatch',
      'The request signature we calculated does not match the signature you provided. Check your key and signing method.',
      { AWSAccessKeyId: scope.accessKeyId, StringToSign: policyBase64, SignatureProvided: field('x-amz-signature')! });
  }

  const policy = parsePolicy(policyBase64);
  if (Date.now() > policy.expiresAt) throw policyDenied('Policy expired.');
  const covered = new Set<string>();
  let lengthRange: [number, number] | undefined;
  for (const condition of policy.conditions) {
    const checked = checkCondition(condition, (name) => (name === 'bucket' ? bucket.name : field(name)));
    if (checked.kind === 'length') lengthRange = checked.range;
    else covered.add(checked.field);
  }
  const extra = [...fields.keys()].filter((name) => !UNCHECKED_FIELDS.has(name) && !name.startsWith('x-ignore-') && !covered.has(name));
  if (extra.length > 0) throw policyDenied(`Extra input fields: ${extra.join(', ')}`);
  if (field('success_action_redirect') !== undefined || field('redirect') !== undefined) {
    throw notImplemented('success_action_redirect');
  }
  const size = file.content.length;
  if (lengthRange && size < lengthRange[0]) {
    throw new S3Error(400, 'EntityTooSmall', 'Your proposed upload is smaller than the minimum allowed size',
      { ProposedSize: String(size), MinSizeAllowed: String(lengthRange[0]) });
  }
  if (lengthRange && size > lengthRange[1]) {
    throw new S3Error(400, 'EntityTooLarge', 'Your proposed upload exceeds the maximum allowed size',
      { ProposedSize: String(size), MaxSizeAllowed: String(lengthRange[1]) });
  }

  const key = field('key')!.replace(/\$\{filename\}/g, file.filename);
  const headers: Headers = {};
  for (const [name, value] of fields) {
    if (STORED_HEADERS.includes(name) || name.startsWith('x-amz-meta-')) headers[name] = value;
  }
  const etag = `"${createHash('md5').update(file.content).digest('hex')}"`;
  const version = writeVersion(store, r, bucket, { key, etag, headers }, file.content);
  const location = `http://${r.header('host') ?? 'localhost'}/${bucket.name}/${encodeURIComponent(key).replace(/%2F/g, '/')}`;
  const out: Headers = { ...writtenHeaders(bucket, version), Location: location };
  const status = field('success_action_status');
  if (status === '201') {
    const inner = el('Location', location) + el('Bucket', bucket.name) + el('Key', key) + el('ETag', version.etag);
    return { status: 201, headers: out, body: xmlDoc('PostResponse', inner, false) };
  }
  return { status: status === '200' ? 200 : 204, headers: out };
}

function parsePolicy(base64: string): { expiresAt: number; conditions: Condition[] } {
  let doc: { expiration?: unknown; conditions?: unknown };
  try {
    doc = JSON.parse(Buffer.from(base64, 'base64').toString('utf8')) as typeof doc;
  } catch {
    throw invalidPolicy('Invalid JSON.');
  }
  const expiresAt = typeof doc.expiration === 'string' ? Date.parse(doc.expiration) : NaN;
  if (Number.isNaN(expiresAt)) throw invalidPolicy('Policy missing expiration.');
  if (!Array.isArray(doc.conditions)) throw invalidPolicy('Policy missing conditions.');
  return { expiresAt, conditions: doc.conditions as Condition[] };
}

type Checked = { kind: 'field'; field: string } | { kind: 'length'; range: [number, number] };

/** Checks one policy condition against the form; says which field it covers. */
function checkCondition(condition: Condition, valueOf: (field: string) => string | undefined): Checked {
  const failed = () => policyDenied(`Policy Condition failed: ${JSON.stringify(condition).replace(/,/g, ', ')}`);
  if (!Array.isArray(condition)) {
    const entries = Object.entries(condition);
    if (entries.length !== 1) throw invalidPolicy('Invalid Simple-Condition: Simple-Conditions must have exactly one property specified.');
    const [name, expected] = entries[0]!;
    const field = name.toLowerCase();
    if (valueOf(field) !== String(expected)) throw failed();
    return { kind: 'field', field };
  }
  const [op, subject, expected] = condition;
  if (op === 'content-length-range') {
    const [min, max] = [Number(subject), Number(expected)];
    if (!Number.isInteger(min) || !Number.isInteger(max)) throw invalidPolicy('Invalid content-length-range.');
    return { kind: 'length', range: [min, max] };
  }
  if ((op !== 'eq' && op !== 'starts-with') || typeof subject !== 'string' || !subject.startsWith('$') || typeof expected !== 'string') {
    throw invalidPolicy(`Invalid Condition: ${JSON.stringify(condition)}`);
  }
  const field = subject.slice(1).toLowerCase();
  const actual = valueOf(field);
  if (actual === undefined || (op === 'eq' ? actual !== expected : !actual.startsWith(expected))) throw failed();
  return { kind: 'field', field };
}

/** multipart/form-data -> fields up to the file part (S3 ignores everything after it). */
function parseForm(r: Request): FormUpload {
  const boundary = /boundary=(?:"([^"]+)"|([^;\s]+))/i.exec(r.header('content-type') ?? '');
  const malformed = () => new S3Error(400, 'MalformedPOSTRequest', 'The body of your POST request is not well-formed multipart/form-data.');
  if (!boundary) throw malformed();
  const delimiter = Buffer.from(`--${boundary[1] ?? boundary[2]}`);
  const body = r.body;
  const fields = new Map<string, string>();
  let pos = body.indexOf(delimiter);
  if (pos < 0) throw malformed();
  for (;;) {
    pos += delimiter.length;
    if (body.subarray(pos, pos + 2).toString() === '--') return { fields, file: undefined }; // closing delimiter
    const headerEnd = body.indexOf('\r\n\r\n', pos);
    const next = body.indexOf(delimiter, headerEnd);
    if (headerEnd < 0 || next < 0) throw malformed();
    const partHeaders = body.toString('utf8', pos, headerEnd);
    const content = body.subarray(headerEnd + 4, next - 2); // the part ends with CRLF before the delimiter
    const name = /[;\s]name="([^"]*)"/i.exec(partHeaders)?.[1];
    if (name === undefined) throw malformed();
    if (name.toLowerCase() === 'file') {
      return { fields, file: { filename: /filename="([^"]*)"/i.exec(partHeaders)?.[1] ?? '', content } };
    }
    fields.set(name.toLowerCase(), content.toString('utf8'));
    pos = next;
  }
}
