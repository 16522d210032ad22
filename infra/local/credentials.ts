/**
 * The local stack's one key pair and region, shared by every client and by the local S3 server,
 * which checks presigned requests against this secret. DynamoDB Local keeps tables per key and
 * region (and its keys may hold letters and digits only).
 */
export const LOCAL_CREDENTIALS = { accessKeyId: 'cloudlitelocal', secretAccessKey: 'cloudlitelocal' };
export const LOCAL_REGION = 'us-east-1';
