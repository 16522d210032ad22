import { ConditionalCheckFailedException } from '@aws-sdk/client-dynamodb';
import { DeleteCommand, GetCommand, PutCommand, paginateScan, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { BadRequestError } from '../core/errors';
import type { KeyRegistry, ListedKey } from '../core/key-registry';
import type { StoredKey } from '../core/principal';
import { dynamoDbFailure } from './sdk-errors';

/**
 * The key table: one item per tenant key, keyed by the SHA-256 of the key (`key_hash`), so the
 * table never holds a usable key. Items:
 *
 *   key_hash (S, partition key) | role (S) | databases (S, pattern) | label (S)?
 *   created_at_ms (N) | expires_at_ms (N)? | expires_at (N, epoch seconds: TTL sweep)?
 *
 * Expiry is decided by `expires_at_ms` when a key is used; the TTL only sweeps expired items.
 */
export class DynamoDbKeyTable implements KeyRegistry {
  constructor(
    private readonly client: DynamoDBDocumentClient,
    private readonly table: string,
  ) {}

  async find(sha256Hex: string): Promise<StoredKey | undefined> {
    try {
      // Eventually consistent is enough: a revoked key may already work for KEY_CACHE_TTL_MS.
      const { Item } = await this.client.send(new GetCommand({ TableName: this.table, Key: { key_hash: sha256Hex } }));
      return Item ? fromItem(Item) : undefined;
    } catch (error) {
      throw dynamoDbFailure('the key table could not be read; retry', error);
    }
  }

  async create(sha256Hex: string, key: StoredKey): Promise<void> {
    try {
      await this.client.send(
        new PutCommand({
          TableName: this.table,
          Item: toItem(sha256Hex, key),
          ConditionExpression: 'attribute_not_exists(key_hash)',
        }),
      );
    } catch (error) {
      if (error instanceof ConditionalCheckFailedException) throw new BadRequestError('a key with this digest already exists', { cause: error });
      throw dynamoDbFailure('the key table could not store the key; retry', error);
    }
  }

  async list(): Promise<ListedKey[]> {
    const keys: ListedKey[] = [];
    try {
      // A few hundred small items: a scan is a handful of pages, and only the key script runs it.
      for await (const page of paginateScan({ client: this.client }, { TableName: this.table })) {
        for (const item of page.Items ?? []) keys.push({ sha256Hex: String(item.key_hash), ...fromItem(item) });
      }
    } catch (error) {
      throw dynamoDbFailure('the key table could not be listed; retry', error);
    }
    return keys;
  }

  async remove(sha256Hex: string): Promise<boolean> {
    try {
      const { Attributes } = await this.client.send(new DeleteCommand({ TableName: this.table, Key: { key_hash: sha256Hex }, ReturnValues: 'ALL_OLD' }));
      return Attributes !== undefined;
    } catch (error) {
      throw dynamoDbFailure('the key table could not delete the key; retry', error);
    }
  }
}

function toItem(sha256Hex: string, key: StoredKey): Record<string, unknown> {
  return {
    key_hash: sha256Hex,
    role: key.role,
    databases: key.databases,
    ...(key.label ? { label: key.label } : {}),
    created_at_ms: key.createdAtMs ?? Date.now(),
    ...(key.expiresAtMs !== undefined ? { expires_at_ms: key.expiresAtMs, expires_at: Math.ceil(key.expiresAtMs / 1000) + 1 } : {}),
  };
}

function fromItem(item: Record<string, unknown>): StoredKey {
  // Anything but an exact `write` reads: a hand-edited item never grants more than it says.
  return {
    role: item.role === 'write' ? 'write' : 'read',
    databases: String(item.databases ?? ''),
    label: typeof item.label === 'string' ? item.label : undefined,
    createdAtMs: typeof item.created_at_ms === 'number' ? item.created_at_ms : undefined,
    expiresAtMs: typeof item.expires_at_ms === 'number' ? item.expires_at_ms : undefined,
  };
}
