import { parseArgs } from 'node:util';
import { createDynamoDbClient } from '../functions/adapters/aws-clients';
import { DynamoDbKeyTable } from '../functions/adapters/dynamodb-key-table';
import { createKey, revokeKey, type ListedKey } from '../functions/core/key-registry';
import { keyIdOf, type Role } from '../functions/core/principal';
import { LOCAL_CREDENTIALS } from '../infra/local/credentials';
import { localStackInfo, runCli, UsageError } from './api-client';

/**
 * Tenant keys in the key table, managed with AWS credentials that may write it (the "admin key"
 * is IAM: no endpoint of the service can mint keys, so no tenant key and no leaked API key can):
 *
 *   npm run keys -- create --role write --databases 'acme-*' --label acme [--expires 2027-01-01]
 *   npm run keys -- list
 *   npm run keys -- revoke key:3f2a9c1e
 *
 * Target: --table (or KEY_TABLE; the stack output KeyTableName), --region (or AWS_REGION), and
 * --endpoint (or DYNAMODB_ENDPOINT) for a DynamoDB other than AWS's. Without any of them, the
 * local stack `npm start` is running (its table and endpoint). A created key is printed once
 * and stored only as its SHA-256.
 */

const USAGE = `usage: npm run keys -- <create|list|revoke> [--table <name>] [--region <region>] [--endpoint <url>]
  create --role read|write --databases <name or glob> [--label <text>] [--expires <ISO date>]
  list
  revoke <key id (key:xxxxxxxx) or digest>`;

async function main(): Promise<void> {
  // The SDK warns that Node 20 support ends in 2027; Lambda runs nodejs22.x.
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
  const { values, positionals, tokens } = parseArgs({
    allowPositionals: true,
    strict: true,
    tokens: true,
    options: {
      table: { type: 'string' },
      region: { type: 'string' },
      endpoint: { type: 'string' },
      role: { type: 'string' },
      databases: { type: 'string' },
      label: { type: 'string' },
      expires: { type: 'string' },
    },
  });
  // parseArgs keeps the last of a repeated option: `--databases acme-* --databases '*'` would
  // silently make a key on every database. A key's scope is said once, or not at all.
  const given = tokens.flatMap((token) => (token.kind === 'option' ? [token.name] : []));
  const repeated = given.find((name, i) => given.indexOf(name) !== i);
  if (repeated) throw new UsageError(`--${repeated} is given more than once; a key has one role and one pattern\n${USAGE}`);
  const [command, argument, ...extra] = positionals;
  if (extra.length > 0 || (command !== 'revoke' && argument !== undefined)) {
    throw new UsageError(`unexpected ${JSON.stringify(command === 'revoke' ? extra[0] : argument)} (quote a glob: --databases 'acme-*'; one pattern per key)\n${USAGE}`);
  }
  // An empty variable counts as unset, as everywhere in the scripts.
  const named = values.table ?? (process.env.KEY_TABLE || undefined);
  const local = named === undefined ? localStackInfo() : undefined;
  const tableName = named ?? local?.keyTable;
  if (!command || !tableName) throw new UsageError(`${tableName ? '' : 'no key table: pass --table or set KEY_TABLE (or start the local stack with npm start)\n'}${USAGE}`);
  const endpoint = values.endpoint ?? (process.env.DYNAMODB_ENDPOINT || local?.dynamoDbEndpoint);
  // The local servers take any credentials; without AWS ones in the environment use theirs.
  if (endpoint && !process.env.AWS_ACCESS_KEY_ID) {
    process.env.AWS_ACCESS_KEY_ID = LOCAL_CREDENTIALS.accessKeyId;
    process.env.AWS_SECRET_ACCESS_KEY = LOCAL_CREDENTIALS.secretAccessKey;
  }
  const client = createDynamoDbClient({ region: values.region ?? process.env.AWS_REGION ?? 'us-east-1', dynamoDbEndpoint: endpoint, dynamoDbRequestTimeoutMs: 10_000 });
  const table = new DynamoDbKeyTable(client, tableName);

  switch (command) {
    case 'create': {
      if (values.role !== 'read' && values.role !== 'write') throw new UsageError(`--role must be read or write\n${USAGE}`);
      if (!values.databases) throw new UsageError(`--databases is required (a name, a glob such as 'acme-*', or '*')\n${USAGE}`);
      // A date is UTC midnight; a date-time must name its zone, or Date.parse reads it in this machine's.
      const zoned = values.expires === undefined || /^\d{4}-\d{2}-\d{2}(?:T\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:Z|[+-]\d{2}:\d{2}))?$/.test(values.expires);
      const expiresAtMs = values.expires ? Date.parse(values.expires) : undefined;
      if (!zoned || (expiresAtMs !== undefined && Number.isNaN(expiresAtMs))) throw new UsageError('--expires must be an ISO date (2027-01-01) or a date-time with its zone (2027-01-01T12:00:00Z)');
      const created = await createKey(table, { role: values.role as Role, databases: values.databases, label: values.label, expiresAtMs }, Date.now());
      console.log(`created ${created.keyId}: ${values.role} on ${values.databases}${values.label ? ` (${values.label})` : ''}`);
      console.log(`key (shown once, store it now): ${created.key}`);
      return;
    }
    case 'list': {
      const keys = await table.list();
      keys.sort((a, b) => (a.createdAtMs ?? 0) - (b.createdAtMs ?? 0));
      for (const key of keys) console.log(describeKey(key));
      console.log(`${keys.length} key(s)`);
      return;
    }
    case 'revoke': {
      if (!argument) throw new UsageError(`revoke needs a key id\n${USAGE}`);
      const revoked = await revokeKey(table, argument);
      console.log(`revoked ${keyIdOf(revoked.sha256Hex)} (${revoked.role} on ${revoked.databases}); containers that cached it refuse it within KEY_CACHE_TTL_MS`);
      return;
    }
    default:
      throw new UsageError(USAGE);
  }
}

function describeKey(key: ListedKey): string {
  const date = (ms: number | undefined) => (ms === undefined ? '-' : new Date(ms).toISOString());
  return [keyIdOf(key.sha256Hex), key.role.padEnd(5), key.databases, `created ${date(key.createdAtMs)}`, `expires ${date(key.expiresAtMs)}`, key.label ?? ''].join('  ');
}

runCli('keys', module, main);
