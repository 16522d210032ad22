import { BadRequestError, PayloadTooLargeError, UnsupportedMediaTypeError } from '../core/errors';

/**
 * Reads a JSON request body strictly: size first, then content type, then UTF-8 (invalid bytes
 * are refused, never replaced), then JSON. (middy's json body parser answers malformed JSON
 * with 415 and decodes invalid UTF-8 leniently; our contract needs 400 for both.)
 */
export interface RawBody {
  body?: string | null;
  isBase64Encoded?: boolean;
  contentType?: string;
}

const JSON_MEDIA_TYPE = /^application\/(?:[\w.+-]+\+)?json\s*(?:;|$)/i;
const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: false });

export function parseJsonBody(raw: RawBody, maxBytes: number): unknown {
  const bytes = raw.body == null ? Buffer.alloc(0) : Buffer.from(raw.body, raw.isBase64Encoded ? 'base64' : 'utf8');
  if (bytes.byteLength > maxBytes) throw new PayloadTooLargeError(`request body is ${bytes.byteLength} bytes; the limit is ${maxBytes}`);
  if (!raw.contentType || !JSON_MEDIA_TYPE.test(raw.contentType)) {
    throw new UnsupportedMediaTypeError('send the request body as JSON with "Content-Type: application/json"');
  }
  if (bytes.byteLength === 0) throw new BadRequestError('request body is empty; send a JSON object');
  let text: string;
  try {
    text = utf8.decode(bytes);
  } catch {
    throw new BadRequestError('request body is not valid UTF-8');
  }
  try {
    return JSON.parse(text);
  } catch (error) {
    throw new BadRequestError(`request body is not valid JSON: ${(error as Error).message}`);
  }
}
