/**
 * Signature Version 4 as S3 checks it on requests that carry their own authentication: a
 * presigned URL (query-string auth, X-Amz-* parameters) and a presigned POST's policy (see
 * post-upload.ts). The server knows the secret of the one key pair the local stack uses.
 *
 * Requests signed in the Authorization header are NOT checked: the service's own SDK clients
 * sign that way and their signatures would only ever be right. What a presigned URL grants
 * (to a browser, for a limited time) is what needs checking, because the code that mints it is
 * the code under test.
 */
import { createHash, createHmac, timingSafeEqual } from 'node:crypto';
import { decodeUri, S3Error, type Request } from './protocol';

export interface Credentials {
  accessKeyId: string;
  secretAccessKey: string;
}

const ALGORITHM = 'AWS4-HMAC-SHA256';
/** S3's ceiling for X-Amz-Expires: seven days. */
const MAX_EXPIRES_SECONDS = 604_800;

const queryParamsError = (message: string) => new S3Error(400, 'AuthorizationQueryParametersError', message);

/** A credential scope `<key id>/<yyyymmdd>/<region>/<service>/aws4_request`, checked and looked up. */
export interface Scope {
  accessKeyId: string;
  date: string;
  region: string;
  service: string;
  secretAccessKey: string;
}

export function parseScope(credential: string, known: Credentials, onMalformed: (message: string) => S3Error): Scope {
  const [accessKeyId = '', date = '', region = '', service = '', terminator, ...rest] = credential.split('/');
  if (!/^\d{8}$/.test(date) || !region || service !== 's3' || terminator !== 'aws4_request' || rest.length > 0) {
    throw onMalformed(`Error parsing the X-Amz-Credential parameter; the Credential is mal-formed; expecting "<YOUR-AKID>/YYYYMMDD/REGION/SERVICE/aws4_request".`);
  }
  if (accessKeyId !== known.accessKeyId) {
    throw new S3Error(403, 'InvalidAccessKeyId', 'The AWS Access Key Id you provided does not exist in our records.',
      { AWSAccessKeyId: accessKeyId });
  }
  return { accessKeyId, date, region, service, secretAccessKey: known.secretAccessKey };
}

/** `yyyyMMdd'T'HHmmss'Z'` as epoch ms, or undefined. */
export function parseAmzDate(value: string): number | undefined {
  const m = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/.exec(value);
  if (!m) return undefined;
  const ms = Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3]), Number(m[4]), Number(m[5]), Number(m[6]));
  return Number.isNaN(ms) ? undefined : ms;
}

/** HMAC-SHA256 of `stringToSign` with the key derived from the scope, as lowercase hex. */
export function sign(scope: Scope, stringToSign: string): string {
  const hmac = (key: Buffer | string, data: string) => createHmac('sha256', key).update(data).digest();
  const key = [scope.date, scope.region, scope.service, 'aws4_request'].reduce<Buffer | string>(
    (k, part) => hmac(k, part), `AWS4${scope.secretAccessKey}`);
  return createHmac('sha256', key).update(stringToSign).digest('hex');
}

export function signatureMatches(expected: string, provided: string): boolean {
  const a = Buffer.from(expected);
  const b = Buffer.from(provided);
  return a.length === b.length && timingSafeEqual(a, b);
}

/** Whether the request authenticates itself in its query string. */
export const isPresigned = (r: Request) =>
  ['X-Amz-Algorithm', 'X-Amz-Credential', 'X-Amz-Signature'].some((name) => r.query.has(name));

/**
 * Throws S3's answer for a presigned URL that is malformed (400 AuthorizationQueryParametersError),
 * signed with an unknown key (403 InvalidAccessKeyId), expired (403 AccessDenied "Request has
 * expired") or whose signature does not match the request (403 SignatureDoesNotMatch).
 */
export function verifyPresignedUrl(r: Request, known: Credentials, now = Date.now()): void {
  const param = (name: string) => r.query.get(name);
  const algorithm = param('X-Amz-Algorithm');
  const credential = param('X-Amz-Credential');
  const amzDate = param('X-Amz-Date');
  const expires = param('X-Amz-Expires');
  const signedHeaders = param('X-Amz-SignedHeaders');
  const signature = param('X-Amz-Signature');
  if (algorithm === null || credential === null || amzDate === null || expires === null || signedHeaders === null || signature === null) {
    throw queryParamsError('Query-string authentication version 4 requires the X-Amz-Algorithm, X-Amz-Credential, '
      + 'X-Amz-Signature, X-Amz-Date, X-Amz-SignedHeaders, and X-Amz-Expires parameters.');
  }
  if (algorithm !== ALGORITHM) throw queryParamsError(`X-Amz-Algorithm only supports "${ALGORITHM}"`);
  const scope = parseScope(credential, known, queryParamsError);
  const signedAt = parseAmzDate(amzDate);
  if (signedAt === undefined) throw queryParamsError('X-Amz-Date must be in the ISO8601 Long Format "yyyyMMdd\'T\'HHmmss\'Z\'"');
  if (!amzDate.startsWith(scope.date)) throw queryParamsError('Invalid credential date. Date is not the same as X-Amz-Date.');
  if (!/^-?\d+$/.test(expires)) throw queryParamsError('X-Amz-Expires should be a number');
  const seconds = Number(expires);
  if (seconds < 0) throw queryParamsError('X-Amz-Expires must be non-negative');
  if (seconds > MAX_EXPIRES_SECONDS) {
    throw queryParamsError('X-Amz-Expires must be less than a week (in seconds); that is, the given X-Amz-Expires '
      + `must be less than ${MAX_EXPIRES_SECONDS} seconds`);
  }
  const expiresAt = signedAt + seconds * 1000;
  if (now > expiresAt) {
    throw new S3Error(403, 'AccessDenied', 'Request has expired',
      { 'X-Amz-Expires': expires, Expires: new Date(expiresAt).toISOString(), ServerTime: new Date(now).toISOString() });
  }
  const canonicalRequest = [
    r.method,
    canonicalUri(r.rawPath),
    canonicalQuery(r.rawQuery),
    signedHeaders.split(';').map((name) => `${name}:${(r.header(name) ?? '').trim().replace(/\s+/g, ' ')}\n`).join(''),
    signedHeaders,
    param('X-Amz-Content-Sha256') ?? 'UNSIGNED-PAYLOAD',
  ].join('\n');
  const stringToSign = [ALGORITHM, amzDate, `${scope.date}/${scope.region}/${scope.service}/aws4_request`,
    createHash('sha256').update(canonicalRequest).digest('hex')].join('\n');
  if (!signatureMatches(sign(scope, stringToSign), signature)) {
    throw new S3Error(403, 'SignatureDoesNotMatch',
      'The request signature we calculated does not match the signature you provided. Check your key and signing method.',
      { AWSAccessKeyId: scope.accessKeyId, StringToSign: stringToSign, SignatureProvided: signature, CanonicalRequest: canonicalRequest });
  }
}

/** RFC 3986 encoding as SigV4 wants it: everything but A-Z a-z 0-9 - _ . ~ is %XX. */
const strictEncode = (s: string) =>
  encodeURIComponent(s).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);

/** S3 signs each path segment encoded once, however the client happened to encode it. */
function canonicalUri(rawPath: string): string {
  return decodeUri(rawPath).split('/').map(strictEncode).join('/');
}

function canonicalQuery(rawQuery: string): string {
  return rawQuery.split('&').filter(Boolean)
    .map((pair) => {
      const eq = pair.indexOf('=');
      const [name, value] = eq < 0 ? [pair, ''] : [pair.slice(0, eq), pair.slice(eq + 1)];
      return [strictEncode(decodeUri(name)), strictEncode(decodeUri(value))] as const;
    })
    .filter(([name]) => name !== 'X-Amz-Signature')
    .sort(([a, av], [b, bv]) => (a < b ? -1 : a > b ? 1 : av < bv ? -1 : av > bv ? 1 : 0))
    .map(([name, value]) => `${name}=${value}`)
    .join('&');
}
