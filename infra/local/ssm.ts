import http from 'node:http';
import type { AddressInfo } from 'node:net';

/** One SSM request as the local server saw it. */
export interface ParameterRequest {
  target: string | undefined;
  name: string | undefined;
  withDecryption: boolean | undefined;
}

export interface LocalParameterStore {
  readonly url: string;
  /** Every request, in order. */
  readonly requests: ParameterRequest[];
  close(): Promise<void>;
}

/**
 * SSM Parameter Store's GetParameter, the one call cloudlite makes (its keys and the flights
 * password, functions/adapters/ssm-secrets.ts), over the real JSON protocol: point the SDK at it
 * with AWS_ENDPOINT_URL_SSM. It serves `parameters` by name and answers ParameterNotFound for
 * the rest. The packaging tests and the bench run the deployed handlers against it, since
 * deployed stages read their keys from SSM.
 */
export async function startLocalParameterStore(parameters: Record<string, string>): Promise<LocalParameterStore> {
  const requests: ParameterRequest[] = [];
  const server = http.createServer((request, response) => {
    let body = '';
    request.on('data', (chunk: Buffer) => (body += chunk.toString('utf8')));
    request.on('end', () => {
      const input = JSON.parse(body || '{}') as { Name?: string; WithDecryption?: boolean };
      const target = request.headers['x-amz-target'];
      requests.push({ target: typeof target === 'string' ? target : undefined, name: input.Name, withDecryption: input.WithDecryption });
      const value = input.Name === undefined ? undefined : parameters[input.Name];
      response.writeHead(value === undefined ? 400 : 200, { 'content-type': 'application/x-amz-json-1.1' });
      response.end(
        JSON.stringify(
          value === undefined
            ? { __type: 'ParameterNotFound', message: `parameter ${input.Name ?? '(no name)'} not found` }
            : { Parameter: { Name: input.Name, Type: 'SecureString', Value: value, Version: 1 } },
        ),
      );
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
