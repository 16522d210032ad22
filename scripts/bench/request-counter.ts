import type { S3Client } from '@aws-sdk/client-s3';
import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';

/** Requests the service sent, per operation (`S3 PUT`, `DynamoDB UpdateItem`), and their bytes per service. */
export interface RequestTally {
  requests: Map<string, number>;
  bytes: Record<Service, { sent: number; received: number }>;
}

type Service = 'S3' | 'DynamoDB';

export interface RequestCounter {
  tally(): RequestTally;
  reset(): void;
  /** Requests of one service (`S3`, `DynamoDB`), or of one operation (`S3 PUT`). */
  count(prefix: string): number;
}

interface HttpLike {
  method: string;
  headers: Record<string, string | undefined>;
  body?: unknown;
}

/**
 * Counts every HTTP attempt the SDK clients make, at the `deserialize` step, which runs once per
 * attempt inside the retry loop: what S3 and DynamoDB bill, not what the code asked for.
 */
export function countRequests(s3: S3Client, dynamoDb: DynamoDBDocumentClient): RequestCounter {
  let current = emptyTally();
  const record = (service: Service, operation: string, request: HttpLike, response: { headers?: Record<string, string | undefined> } | undefined) => {
    current.requests.set(operation, (current.requests.get(operation) ?? 0) + 1);
    current.bytes[service].sent += bodyBytes(request);
    current.bytes[service].received += Number(response?.headers?.['content-length'] ?? 0);
  };
  type Context = { commandName?: string };
  const middleware = (service: Service, name: (request: HttpLike, context: Context) => string) => (next: (args: any) => Promise<any>, context: Context) => async (args: any) => { // eslint-disable-line @typescript-eslint/no-explicit-any
    const request = args.request as HttpLike;
    try {
      const result = await next(args);
      record(service, name(request, context), request, result.response);
      return result;
    } catch (error) {
      record(service, name(request, context), request, (error as { $response?: { headers?: Record<string, string> } }).$response);
      throw error;
    }
  };
  // A listing is a GET on the bucket, billed as a LIST (12.5 times a GET): named apart.
  s3.middlewareStack.add(middleware('S3', (request, context) => (context.commandName?.startsWith('List') ? 'S3 LIST' : `S3 ${request.method}`)), {
    step: 'deserialize',
    name: 'benchRequestCounter',
  });
  dynamoDb.middlewareStack.add(
    middleware('DynamoDB', (request) => `DynamoDB ${String(request.headers['x-amz-target'] ?? '?').split('.').pop()}`),
    { step: 'deserialize', name: 'benchRequestCounter' },
  );
  return {
    tally: () => current,
    reset: () => (current = emptyTally()),
    count: (prefix) => [...current.requests].filter(([operation]) => operation === prefix || operation.startsWith(`${prefix} `)).reduce((sum, [, n]) => sum + n, 0),
  };
}

function emptyTally(): RequestTally {
  return { requests: new Map(), bytes: { S3: { sent: 0, received: 0 }, DynamoDB: { sent: 0, received: 0 } } };
}

function bodyBytes(request: HttpLike): number {
  const declared = Number(request.headers['content-length'] ?? request.headers['Content-Length'] ?? NaN);
  if (Number.isFinite(declared)) return declared;
  if (typeof request.body === 'string') return Buffer.byteLength(request.body);
  if (request.body instanceof Uint8Array) return request.body.byteLength;
  return 0;
}

/** `S3 GET ×1, DynamoDB GetItem ×1` */
export function describeTally(tally: RequestTally): string {
  const parts = [...tally.requests].sort(([a], [b]) => a.localeCompare(b)).map(([operation, n]) => `${operation} ×${n}`);
  return parts.length === 0 ? 'none' : parts.join(', ');
}
