/**
 * Conditional requests: the read preconditions of GET/HEAD and of a copy source (304/412), and
 * the write preconditions of PUT and copy (`If-None-Match: *`, `If-Match`: 412, 404, 409).
 */
import type { ObjectVersion } from './store';
import { noSuchKey, preconditionFailed, S3Error, type Request } from './protocol';

/**
 * Conditional PUTs in flight, per bucket/key. The body of a PUT arrives over many event-loop
 * turns; the condition is checked and the version committed in one synchronous step once the
 * body is complete, so no other request can interleave between check and commit. What remains
 * is overlap during the upload, which S3 reports as 409 ConditionalRequestConflict:
 *
 *   A: PUT If-None-Match:*  |--- receiving body ---|check+commit| 200
 *   B: PUT If-None-Match:*         |--- receiving ---|             409 (A was in flight)
 *   C: DELETE                   |x| (during A's upload)     -> A answers 409 instead of 200
 *
 * An If-Match PUT overlapped by a DELETE needs no bookkeeping: the key is gone at commit time,
 * and S3 answers that with 404, which is what the plain check produces.
 */
export class InFlight {
  private readonly byKey = new Map<string, { deletedMeanwhile: boolean }>();

  enter(bucket: string, key: string): Ticket {
    const id = `${bucket}\n${key}`;
    if (this.byKey.has(id)) return { conflict: true, deletedMeanwhile: () => false, release: () => undefined };
    const state = { deletedMeanwhile: false };
    this.byKey.set(id, state);
    return { conflict: false, deletedMeanwhile: () => state.deletedMeanwhile, release: () => this.byKey.delete(id) };
  }

  noteDelete(bucket: string, key: string): void {
    const state = this.byKey.get(`${bucket}\n${key}`);
    if (state) state.deletedMeanwhile = true;
  }
}

export interface Ticket {
  conflict: boolean;
  deletedMeanwhile(): boolean;
  release(): void;
}

/** Whether a PUT must take a ticket before its body arrives: it carries a write precondition. */
export const isConditionalWrite = (r: Pick<Request, 'header'>) =>
  r.header('if-match') !== undefined || r.header('if-none-match') !== undefined;

/**
 * Throws the S3 error for a write whose preconditions fail against `current` (the key's newest
 * version, delete marker or not). Runs in the same synchronous step as the commit.
 */
export function checkWritePreconditions(r: Request, key: string, current: ObjectVersion | undefined): void {
  const ifNoneMatch = r.header('if-none-match');
  const ifMatch = r.header('if-match');
  if ((ifNoneMatch !== undefined && ifNoneMatch.trim() !== '*') || (ifNoneMatch !== undefined && ifMatch !== undefined)) {
    // What AWS answers: on writes If-None-Match only takes "*", and not together with If-Match.
    throw new S3Error(501, 'NotImplemented', 'A header you provided implies functionality that is not implemented',
      { Header: 'If-None-Match' });
  }
  const conflict = () => new S3Error(409, 'ConditionalRequestConflict',
    'The conditional request cannot succeed due to a conflicting operation against this resource.', { Key: key });
  if (r.ticket?.conflict) throw conflict();
  const live = current && !current.isDeleteMarker ? current : undefined;
  if (ifNoneMatch !== undefined) {
    if (live) throw preconditionFailed('If-None-Match');
    // The key was deleted while this upload was in flight: S3 reports the overlap, not success.
    if (r.ticket?.deletedMeanwhile()) throw conflict();
  }
  if (ifMatch !== undefined) {
    // AWS: no current version, or a delete marker, fails with 404 rather than 412.
    if (!live) throw noSuchKey(key);
    if (!etagListMatches(ifMatch, live.etag)) throw preconditionFailed('If-Match');
  }
}

/**
 * Throws the S3 error for a DELETE (of the current version, not of a version id) whose `If-Match`
 * fails, as S3 answers conditional deletes since 2025-09: 404 NoSuchKey when the key has no
 * current version (none, or a delete marker), 412 when its ETag differs. Without the header a
 * delete is unconditional.
 */
export function checkDeletePreconditions(r: Request, key: string, current: ObjectVersion | undefined): void {
  const ifMatch = r.header('if-match');
  if (ifMatch === undefined) return;
  const live = current && !current.isDeleteMarker ? current : undefined;
  if (!live) throw noSuchKey(key);
  if (!etagListMatches(ifMatch, live.etag)) throw preconditionFailed('If-Match');
}

/**
 * The first read precondition that fails, in RFC 7232 order: If-Match (else If-Unmodified-Since)
 * fails with 412, then If-None-Match (else If-Modified-Since) with 304. `prefix` selects the
 * x-amz-copy-source-* variants of the same headers.
 */
export function readPreconditions(
  header: (name: string) => string | undefined, v: ObjectVersion, prefix: string,
): { status: 304 | 412; condition: string } | undefined {
  const get = (name: string) => header(prefix + name);
  const date = (name: string) => {
    const ms = Date.parse(get(name) ?? '');
    return Number.isNaN(ms) ? undefined : ms; // S3 ignores a date it cannot parse
  };
  const modified = Math.floor(v.lastModified / 1000) * 1000; // HTTP dates carry whole seconds
  const ifMatch = get('if-match');
  const ifUnmodifiedSince = date('if-unmodified-since');
  if (ifMatch !== undefined) {
    if (!etagListMatches(ifMatch, v.etag)) return { status: 412, condition: 'If-Match' };
  } else if (ifUnmodifiedSince !== undefined && modified > ifUnmodifiedSince) {
    return { status: 412, condition: 'If-Unmodified-Since' };
  }
  const ifNoneMatch = get('if-none-match');
  const ifModifiedSince = date('if-modified-since');
  if (ifNoneMatch !== undefined) {
    if (etagListMatches(ifNoneMatch, v.etag)) return { status: 304, condition: 'If-None-Match' };
  } else if (ifModifiedSince !== undefined && modified <= ifModifiedSince) {
    return { status: 304, condition: 'If-Modified-Since' };
  }
  return undefined;
}

const unquote = (etag: string) => etag.trim().replace(/^W\//, '').replace(/^"(.*)"$/, '$1');

function etagListMatches(header: string, etag: string): boolean {
  return header.split(',').some((candidate) => candidate.trim() === '*' || unquote(candidate) === unquote(etag));
}
