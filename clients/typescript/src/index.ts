export { createClient } from './client.ts';
export type {
  BatchResult,
  BatchStatement,
  CallOptions,
  Client,
  ClientOptions,
  Consistency,
  DatabaseInfo,
  Meta,
  PointInTime,
  RawRequestOptions,
  RestoreAnswer,
  ResultSet,
  Row,
  SqlOptions,
  StatementResult,
  TransferOptions,
  VersionInfo,
} from './client.ts';
export { base64ToBytes, bytesToBase64, decodeCell, encodeParam, encodeParams, objectKeys } from './codec.ts';
export type { BigIntColumns, CellMode, ParamValue, Params, SqlValue, WireValue } from './codec.ts';
export { ApiError, CloudliteError, GatewayError, NetworkError, SqlError, TimeoutError } from './errors.ts';
export type { ErrorDetails, ServiceErrorCode } from './errors.ts';
export { isRetryable, parseRetryAfter, retryDelayMs } from './retry.ts';
export type { BackoffPolicy, RetryRequest } from './retry.ts';
export type { FetchLike, Progress, RetryEvent } from './transport.ts';
