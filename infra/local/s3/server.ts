/**
 * In-process S3-compatible server for the local stack and the integration tests.
 *
 * Why it exists: the service relies on two S3 features at once (object versioning and
 * conditional PUT with If-Match / If-None-Match), and no local emulator available here honours
 * both. It speaks enough of the S3 REST API, path-style only, for the real AWS SDK v3 S3Client
 * and its presigners. Presigned URLs and presigned POST policies are verified (sigv4.ts);
 * requests signed in the Authorization header are not. A dev/test tool, bound to loopback.
 *
 * The files of this folder, by concern:
 *   server.ts       this HTTP edge: decode the request, read the body, write the reply
 *   router.ts       which operation a request is
 *   buckets.ts      bucket operations          listings.ts     the three list operations
 *   objects.ts      GET/HEAD/PUT/copy/DELETE   post-upload.ts  browser form uploads
 *   conditions.ts   conditional reads/writes   sigv4.ts        presigned request checks
 *   store.ts        state and persistence      protocol.ts     request, reply, errors, XML
 */
import { randomBytes } from 'node:crypto';
import http from 'node:http';
import { LOCAL_CREDENTIALS } from '../credentials';
import { InFlight, isConditionalWrite, type Ticket } from './conditions';
import { dispatch, type S3State } from './router';
import type { Credentials } from './sigv4';
import { Store } from './store';
import { decodeUri, errorReply, S3Error, type Headers, type Reply, type Request } from './protocol';

export interface LocalS3Options {
  /** 0 = a random free port. */
  port?: number;
  /** Default 127.0.0.1. */
  host?: string;
  /** Persist here; absent = memory only. */
  dataDir?: string;
  /** The key pair presigned requests must be signed with; default the local stack's. */
  credentials?: Credentials;
}

export interface LocalS3Server {
  /** e.g. http://127.0.0.1:4569 */
  readonly endpoint: string;
  readonly port: number;
  close(): Promise<void>;
}

// Everything is buffered in memory; refuse (rather than crash on) bodies we cannot hold.
const MAX_BODY_BYTES = 1024 * 1024 * 1024;

/** Starts the server; resolves once it is listening. */
export async function startLocalS3(options: LocalS3Options = {}): Promise<LocalS3Server> {
  const host = options.host ?? '127.0.0.1';
  const state: S3State = {
    store: new Store(options.dataDir),
    inFlight: new InFlight(),
    credentials: options.credentials ?? LOCAL_CREDENTIALS,
  };

  const server = http.createServer((req, res) => {
    const requestId = randomBytes(8).toString('hex').toUpperCase();
    res.setHeader('x-amz-request-id', requestId);
    res.setHeader('x-amz-id-2', randomBytes(24).toString('base64'));
    let ticket: Ticket | undefined;
    const run = async (): Promise<Reply> => {
      const request = parseRequest(req);
      // Registered before the body arrives: overlap with another conditional PUT is decided by
      // arrival, and the check itself runs once the whole body is in (see InFlight).
      if (request.method === 'PUT' && request.bucket && request.key && isConditionalWrite(request)) {
        ticket = state.inFlight.enter(request.bucket, request.key);
        request.ticket = ticket;
      }
      request.body = await readBody(req);
      return dispatch(state, request);
    };
    run()
      .catch((err: unknown) => {
        if (err instanceof S3Error) return errorReply(err, req.url ?? '/', requestId);
        const { method, url } = req;
        console.error(JSON.stringify({ level: 'error', msg: 'local-s3 internal error', requestId, method, url, error: String(err) }));
        const internal = new S3Error(500, 'InternalError', 'We encountered an internal error. Please try again.');
        return errorReply(internal, url ?? '/', requestId);
      })
      .then((reply) => send(req, res, reply))
      .catch(() => res.destroy()) // nothing more can be said on this socket; the server goes on
      .finally(() => ticket?.release());
  });

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, host, () => { server.off('error', reject); resolve(); });
  });
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : options.port ?? 0;
  const shownHost = host === '0.0.0.0' || host === '::' ? '127.0.0.1' : host.includes(':') ? `[${host}]` : host;
  return {
    endpoint: `http://${shownHost}:${port}`,
    port,
    close: () => new Promise<void>((resolve, reject) => {
      server.close((err) => (err ? reject(err) : resolve()));
      server.closeAllConnections(); // SDK clients keep sockets alive; do not wait for them to idle out
    }),
  };
}

function parseRequest(req: http.IncomingMessage): Request {
  const url = req.url ?? '/';
  const q = url.indexOf('?');
  const rawPath = q < 0 ? url : url.slice(0, q);
  const rawQuery = q < 0 ? '' : url.slice(q + 1);
  // Split by hand: WHATWG URL parsing would resolve "." and ".." segments, which are legal in keys.
  const [bucket = '', ...rest] = decodeUri(rawPath).replace(/^\//, '').split('/');
  const key = rest.join('/');
  const header = (name: string) => {
    const value = req.headers[name];
    return Array.isArray(value) ? value.join(',') : value;
  };
  return {
    method: req.method ?? 'GET',
    bucket: bucket || undefined,
    key: bucket && key ? key : undefined,
    rawPath,
    query: new URLSearchParams(rawQuery),
    rawQuery,
    header,
    headersRaw: () => Object.fromEntries(Object.keys(req.headers).map((name) => [name, header(name) ?? ''])),
    body: Buffer.alloc(0),
  };
}

function readBody(req: http.IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let total = 0;
    req.on('data', (chunk: Buffer) => {
      total += chunk.length;
      if (total <= MAX_BODY_BYTES) chunks.push(chunk); // past the cap keep draining, answer at the end
    });
    req.on('end', () =>
      total > MAX_BODY_BYTES
        ? reject(new S3Error(400, 'EntityTooLarge', 'Your proposed upload exceeds the maximum allowed size'))
        : resolve(Buffer.concat(chunks)));
    req.on('error', () => reject(new S3Error(400, 'IncompleteBody', 'The connection closed before the whole body arrived')));
  });
}

function send(req: http.IncomingMessage, res: http.ServerResponse, reply: Reply): void {
  if (res.headersSent || res.destroyed) return;
  const headers: Headers = { ...reply.headers };
  let body = reply.body === undefined ? undefined : Buffer.from(reply.body);
  if (body && typeof reply.body === 'string') headers['Content-Type'] = 'application/xml';
  if (req.method === 'HEAD' || reply.status === 304 || reply.status === 204) body = undefined;
  else headers['Content-Length'] ??= String(body?.length ?? 0);
  res.writeHead(reply.status, headers);
  res.end(body);
}
