import type { MigrationReport } from '../../functions/core/migrations';
import { migrateMatching } from '../../scripts/migrate';

describe('migrate --databases <pattern>', () => {
  const listed = async () => ['globex-1', 'acme-2', 'acme-1', 'acme'];
  const upToDate: MigrationReport = { applied: [], alreadyApplied: 1 };

  it('migrates each matching database, in name order, and reports each', async () => {
    const migrated: string[] = [];
    const lines: string[] = [];

    const ok = await migrateMatching(listed, async (database) => (migrated.push(database), upToDate), 'acme-*', (line) => lines.push(line));

    expect(ok).toBe(true);
    expect(migrated).toEqual(['acme-1', 'acme-2']);
    expect(lines).toEqual(['acme-1: up to date (1 migration(s) already applied)', 'acme-2: up to date (1 migration(s) already applied)']);
  });

  it('reports a failed database and still migrates the others', async () => {
    const lines: string[] = [];
    const migrate = async (database: string) => {
      if (database === 'acme-1') throw Object.assign(new Error('lock busy'), { name: 'RemoteError' });
      return upToDate;
    };

    const ok = await migrateMatching(listed, migrate, 'acme-*', (line) => lines.push(line));

    expect(ok).toBe(false);
    expect(lines).toEqual(['acme-1: FAILED RemoteError: lock busy', 'acme-2: up to date (1 migration(s) already applied)']);
  });

  it('says so when nothing matches', async () => {
    const lines: string[] = [];
    expect(await migrateMatching(listed, async () => upToDate, 'initech-*', (line) => lines.push(line))).toBe(true);
    expect(lines).toEqual(['no database matches initech-*']);
  });
});

describe('migrate --databases <pattern> (found in review)', () => {
  it('refuses a pattern no database name can match (acme-?, ACME-*) instead of "no database matches" and success', async () => {
    const lines: string[] = [];
    const listed = async () => ['acme-1', 'acme-2'];
    // Key scopes only know `*`; `?` and capitals can never match, so exit 0 hides the typo.
    await expect(migrateMatching(listed, async () => ({ applied: [], alreadyApplied: 1 }), 'acme-?', (line) => lines.push(line))).rejects.toThrow('acme-?');
    await expect(migrateMatching(listed, async () => ({ applied: [], alreadyApplied: 1 }), 'ACME-*', (line) => lines.push(line))).rejects.toThrow('ACME-*');
  });
});
