import http from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * A real HTTP proxy in front of a local server that injects faults into matching requests:
 * the SDK, its retries and timeouts all see genuine network behaviour.
 */
export interface ProxiedRequest {
  method: string;
  path: string;
  /** DynamoDB operation from X-Amz-Target, e.g. "PutItem". */
  operation?: string;
  /** The request body as text (DynamoDB's JSON). */
  body: string;
  /** The status the server answered, once a forwarded request is answered. */
  status?: number;
}

/**
 * What a DynamoDB request does to a database's item, read from its update expression: every lease
 * step is an UpdateItem (functions/adapters/dynamodb-lease-lock.ts), so the operation alone
 * cannot tell them apart.
 */
export function leaseStep(request: ProxiedRequest): 'acquire' | 'renew' | 'publish' | 'release' | 'read' | undefined {
  if (request.operation === 'GetItem') return 'read';
  if (request.operation !== 'UpdateItem') return undefined;
  const expression = String((JSON.parse(request.body) as { UpdateExpression?: string }).UpdateExpression ?? '');
  if (expression.startsWith('SET #owner = :me')) return 'acquire';
  if (expression === 'SET #expiresAtMs = :expiresAtMs') return 'renew';
  if (expression === 'REMOVE #owner, #expiresAtMs') return 'release';
  return 'publish';
}

export type Fault =
  /** Answer with this status and body instead of forwarding. */
  | { kind: 'respond'; status: number; body: string; contentType?: string }
  /** Never answer (the client's request timeout fires); the request is not forwarded. */
  | { kind: 'hang' }
  /** Forward, let the server apply it, then cut the connection before the client sees the answer. */
  | { kind: 'drop-response' }
  /** Forward, then answer with the real status and headers but cut the connection halfway through the body. */
  | { kind: 'truncate-body' }
  /**
   * Hold the request (as a frozen writer or a slow network would) until `until` settles, then
   * forward it; `reached` is told when it arrives, so a test can act while it is held.
   */
  | { kind: 'hold'; until: Promise<void>; reached?: () => void };

interface Rule {
  matches: (request: ProxiedRequest) => boolean;
  fault: Fault;
  remaining: number;
}

export class FaultProxy {
  private readonly rules: Rule[] = [];
  readonly seen: ProxiedRequest[] = [];
  private server?: http.Server;
  url = '';

  constructor(private readonly target: string) {}

  async start(): Promise<this> {
    this.server = http.createServer((req, res) => void this.handle(req, res));
    await new Promise<void>((resolve) => this.server!.listen(0, '127.0.0.1', resolve));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
    return this;
  }

  /** Injects `fault` into the next `times` requests that match (Infinity = until cleared). */
  inject(matches: (request: ProxiedRequest) => boolean, fault: Fault, times = Infinity): void {
    this.rules.push({ matches, fault, remaining: times });
  }

  clear(): void {
    this.rules.length = 0;
  }

  async close(): Promise<void> {
    if (!this.server) return;
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server!.close(() => resolve()));
  }

  private async handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const body = Buffer.concat(chunks);
    const target = req.headers['x-amz-target'];
    const request: ProxiedRequest = {
      method: req.method ?? 'GET',
      path: req.url ?? '/',
      operation: typeof target === 'string' ? target.split('.').pop() : undefined,
      body: body.toString('utf8'),
    };
    this.seen.push(request);
    const rule = this.rules.find((r) => r.remaining > 0 && r.matches(request));
    if (rule) rule.remaining -= 1;
    const fault = rule?.fault;

    if (fault?.kind === 'hang') return; // the socket stays open until the client gives up
    if (fault?.kind === 'hold') {
      fault.reached?.();
      await fault.until;
    }
    if (fault?.kind === 'respond') {
      res.writeHead(fault.status, { 'content-type': fault.contentType ?? 'application/xml' });
      res.end(fault.body);
      return;
    }
    const upstream = await forward(this.target, req, body);
    request.status = upstream.status;
    if (fault?.kind === 'drop-response') {
      req.socket.destroy();
      return;
    }
    res.writeHead(upstream.status, upstream.headers);
    if (fault?.kind === 'truncate-body') {
      res.write(upstream.body.subarray(0, upstream.body.byteLength >> 1), () => req.socket.destroy());
      return;
    }
    res.end(upstream.body);
  }
}

async function forward(target: string, req: http.IncomingMessage, body: Buffer): Promise<{ status: number; headers: http.OutgoingHttpHeaders; body: Buffer }> {
  const url = new URL(req.url ?? '/', target);
  return new Promise((resolve, reject) => {
    const upstream = http.request(url, { method: req.method, headers: { ...req.headers, host: url.host } }, (response) => {
      const chunks: Buffer[] = [];
      response.on('data', (chunk: Buffer) => chunks.push(chunk));
      response.on('end', () => resolve({ status: response.statusCode ?? 502, headers: response.headers, body: Buffer.concat(chunks) }));
      response.on('error', reject);
    });
    upstream.on('error', reject);
    upstream.end(body);
  });
}

export const S3_SLOW_DOWN = {
  kind: 'respond',
  status: 503,
  body: '<?xml version="1.0" encoding="UTF-8"?><Error><Code>SlowDown</Code><Message>Please reduce your request rate.</Message></Error>',
} as const satisfies Fault;

export const S3_INTERNAL_ERROR = {
  kind: 'respond',
  status: 500,
  body: '<?xml version="1.0" encoding="UTF-8"?><Error><Code>InternalError</Code><Message>We encountered an internal error.</Message></Error>',
} as const satisfies Fault;

export const DYNAMODB_THROTTLED = {
  kind: 'respond',
  status: 400,
  contentType: 'application/x-amz-json-1.0',
  body: JSON.stringify({ __type: 'com.amazonaws.dynamodb.v20120810#ThrottlingException', message: 'Rate of requests exceeds the allowed throughput.' }),
} as const satisfies Fault;

export const DYNAMODB_INTERNAL_ERROR = {
  kind: 'respond',
  status: 500,
  contentType: 'application/x-amz-json-1.0',
  body: JSON.stringify({ __type: 'com.amazonaws.dynamodb.v20120810#InternalServerError', message: 'Internal server error' }),
} as const satisfies Fault;

/** S3's answer to a conditional write while another conditional write to the key is in flight. */
export const S3_CONDITIONAL_CONFLICT = {
  kind: 'respond',
  status: 409,
  body: '<?xml version="1.0" encoding="UTF-8"?><Error><Code>ConditionalRequestConflict</Code><Message>A conditional request to this object is in progress.</Message></Error>',
} as const satisfies Fault;
