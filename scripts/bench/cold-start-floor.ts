import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { S3Client } from '@aws-sdk/client-s3';
import path from 'node:path';
import initSqlJs from 'sql.js';

/**
 * The cold-start floor (bundled minified by the bench, run in a fresh process): what any design
 * built on these three pieces must load before it can answer anything. Nothing else.
 */
new S3Client({ region: 'us-east-1' });
new DynamoDBClient({ region: 'us-east-1' });
// By its own clock, from its own start: not from when the bench forked it (cold-start.ts says why).
void initSqlJs({ locateFile: () => path.join(__dirname, 'sql-wasm.wasm') }).then(() => process.stdout.write(`done ${performance.now()}\n`));
