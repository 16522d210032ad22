/**
 * Buckets and the history of every key, in memory, and with a data directory also on disk:
 * dataDir/<bucket>/bucket.json and dataDir/<bucket>/versions/<file>.{json,bin}. Every change is
 * on disk (temp file + rename) before the caller answers, so a restarted server sees the same
 * buckets and versions.
 */
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';

export type Versioning = 'Enabled' | 'Suspended';

/** One entry of a key's history; also the JSON record persisted next to the body file. */
export interface ObjectVersion {
  key: string;
  versionId: string; // "null" in unversioned / suspended buckets, as S3 reports it
  seq: number; // global creation order: sorts a key's history, also after a restart
  isDeleteMarker: boolean;
  lastModified: number; // epoch ms
  etag: string; // quoted hex MD5
  size: number;
  headers: Record<string, string>; // content-* headers and x-amz-meta-*, echoed on GET/HEAD
  file: string; // body file name, unique per bucket (version ids are not: "null" repeats)
}

export interface Bucket {
  name: string;
  created: number;
  versioning?: Versioning; // undefined = never versioned, which S3 distinguishes from Suspended
  objects: Map<string, ObjectVersion[]>; // newest first
}

export type NewVersion = Omit<ObjectVersion, 'seq' | 'file' | 'versionId'>;

const SEQ_BYTES = 8;
const VERSION_ID_BYTES = SEQ_BYTES + 19;

/**
 * The creation order a version id minted here carries, or undefined for any other string.
 * Like S3's, our ids are ordered: a listing can resume after a version that has since been
 * deleted (a lifecycle rule may remove it between two pages).
 */
export function versionSeq(versionId: string): number | undefined {
  const bytes = Buffer.from(versionId, 'base64url');
  if (bytes.length !== VERSION_ID_BYTES || bytes.toString('base64url') !== versionId) return undefined;
  return Number(bytes.readBigUInt64BE(0));
}

function writeAtomic(file: string, data: string | Buffer): void {
  const tmp = `${file}.${randomBytes(6).toString('hex')}.tmp`;
  fs.writeFileSync(tmp, data);
  fs.renameSync(tmp, file); // a reader (or a restart) sees the old file or the new one, never half
}

export class Store {
  readonly buckets = new Map<string, Bucket>();
  private readonly bodies = new Map<string, Buffer>(); // memory mode only, by `${bucket}/${file}`
  private seq = 0;

  constructor(private readonly dataDir: string | undefined) {
    if (dataDir) this.load(dataDir);
  }

  createBucket(name: string): Bucket {
    const bucket: Bucket = { name, created: Date.now(), objects: new Map() };
    if (this.dataDir) {
      fs.mkdirSync(`${this.dataDir}/${name}/versions`, { recursive: true });
      this.saveBucket(bucket);
    }
    this.buckets.set(name, bucket);
    return bucket;
  }

  deleteBucket(bucket: Bucket): void {
    this.buckets.delete(bucket.name);
    if (!this.dataDir) return;
    // bucket.json goes first: a crash mid-way leaves a directory that load() ignores.
    fs.rmSync(`${this.dataDir}/${bucket.name}/bucket.json`, { force: true });
    fs.rmSync(`${this.dataDir}/${bucket.name}`, { recursive: true, force: true });
  }

  setVersioning(bucket: Bucket, status: Versioning): void {
    bucket.versioning = status;
    this.saveBucket(bucket);
  }

  /**
   * Makes `fields` the newest version of its key. A versioned bucket mints a new id; the others
   * only ever hold the "null" version, which replaces the previous "null" one.
   */
  addVersion(bucket: Bucket, fields: NewVersion, body: Buffer | undefined): ObjectVersion {
    const seq = ++this.seq;
    const version: ObjectVersion = { ...fields, seq, versionId: mintVersionId(bucket, seq), file: randomBytes(12).toString('hex') };
    if (this.dataDir) {
      // Body before record: the JSON record is the commit point, so a crash never leaves a
      // version whose body is missing.
      const base = `${this.dataDir}/${bucket.name}/versions/${version.file}`;
      if (body) writeAtomic(`${base}.bin`, body);
      writeAtomic(`${base}.json`, JSON.stringify(version));
    } else if (body) {
      this.bodies.set(`${bucket.name}/${version.file}`, body);
    }
    const history = bucket.objects.get(version.key) ?? [];
    const replaced = version.versionId === 'null' ? history.find((v) => v.versionId === 'null') : undefined;
    if (replaced) this.removeVersion(bucket, replaced);
    bucket.objects.set(version.key, [version, ...(bucket.objects.get(version.key) ?? [])]);
    return version;
  }

  removeVersion(bucket: Bucket, version: ObjectVersion): void {
    const rest = (bucket.objects.get(version.key) ?? []).filter((v) => v !== version);
    if (rest.length > 0) bucket.objects.set(version.key, rest);
    else bucket.objects.delete(version.key);
    this.bodies.delete(`${bucket.name}/${version.file}`);
    if (this.dataDir) {
      const base = `${this.dataDir}/${bucket.name}/versions/${version.file}`;
      fs.rmSync(`${base}.json`, { force: true });
      fs.rmSync(`${base}.bin`, { force: true });
    }
  }

  body(bucket: Bucket, version: ObjectVersion): Buffer {
    if (!this.dataDir) return this.bodies.get(`${bucket.name}/${version.file}`) ?? Buffer.alloc(0);
    return version.size === 0 ? Buffer.alloc(0) : fs.readFileSync(`${this.dataDir}/${bucket.name}/versions/${version.file}.bin`);
  }

  private saveBucket(bucket: Bucket): void {
    if (!this.dataDir) return;
    const { name, created, versioning } = bucket;
    writeAtomic(`${this.dataDir}/${name}/bucket.json`, JSON.stringify({ name, created, versioning }));
  }

  private load(dataDir: string): void {
    fs.mkdirSync(dataDir, { recursive: true });
    for (const entry of fs.readdirSync(dataDir, { withFileTypes: true })) {
      const dir = `${dataDir}/${entry.name}`;
      if (!entry.isDirectory() || !fs.existsSync(`${dir}/bucket.json`)) continue;
      const meta = JSON.parse(fs.readFileSync(`${dir}/bucket.json`, 'utf8')) as Omit<Bucket, 'objects'>;
      const bucket: Bucket = { ...meta, objects: new Map() };
      fs.mkdirSync(`${dir}/versions`, { recursive: true });
      const records: ObjectVersion[] = [];
      for (const file of fs.readdirSync(`${dir}/versions`)) {
        if (file.endsWith('.tmp')) fs.rmSync(`${dir}/versions/${file}`, { force: true }); // interrupted write
        if (!file.endsWith('.json')) continue;
        try {
          records.push(JSON.parse(fs.readFileSync(`${dir}/versions/${file}`, 'utf8')) as ObjectVersion);
        } catch {
          // Unreadable record: skip it rather than refuse to start a dev server.
        }
      }
      records.sort((a, b) => b.seq - a.seq);
      for (const v of records) {
        this.seq = Math.max(this.seq, v.seq);
        const history = bucket.objects.get(v.key) ?? [];
        // A crash between writing a new "null" version and removing the old one leaves both.
        if (history.some((h) => h.versionId === v.versionId)) continue;
        bucket.objects.set(v.key, [...history, v]);
      }
      this.buckets.set(bucket.name, bucket);
    }
  }
}

function mintVersionId(bucket: Bucket, seq: number): string {
  if (bucket.versioning !== 'Enabled') return 'null';
  const id = Buffer.alloc(VERSION_ID_BYTES);
  id.writeBigUInt64BE(BigInt(seq), 0);
  randomBytes(VERSION_ID_BYTES - SEQ_BYTES).copy(id, SEQ_BYTES);
  return id.toString('base64url');
}
