import { ForbiddenError } from '../../functions/core/errors';
import { GrantedPrincipal, matchesDatabase, roleOn, type Grant, type Role } from '../../functions/core/principal';

describe('matchesDatabase', () => {
  it.each([
    ['tenant-42', 'tenant-42', true],
    ['tenant-42', 'tenant-420', false],
    ['tenant-42', 'tenant-4', false],
    ['tenant-42-*', 'tenant-42-reports', true],
    ['tenant-42-*', 'tenant-42-', true],
    ['tenant-42-*', 'tenant-42', false],
    ['tenant-42-*', 'tenant-421-x', false],
    ['*-reports', 'acme-reports', true],
    ['*-reports', 'acme-reports-old', false],
    ['a*c', 'abbbc', true],
    ['*', 'anything_at-all', true],
    // Not patterns: never match, whatever they look like.
    ['', 'main', false],
    ['.*', 'main', false],
    ['ACME', 'acme', false],
  ])('%j names %j: %s', (pattern, database, expected) => {
    expect(matchesDatabase(pattern, database)).toBe(expected);
  });

  // A pattern names databases, and only database names are databases: authorize runs on names
  // straight from the request (a path parameter, a clone's "to"), before anything validates them.
  it.each([
    ['a path out of the scope', 'acme-*', 'acme-../globex-x'],
    ['a name longer than 63 characters', 'acme-*', `acme-${'x'.repeat(59)}`],
    ['upper case', '*', 'ACME-1'],
    ['a trailing newline', '*', 'acme-1\n'],
  ])('names no string that is not a database name: %s', (_name, pattern, notADatabase) => {
    expect(matchesDatabase(pattern, notADatabase)).toBe(false);
  });

  it('matches a glob of many stars in one pass, not by backtracking through every placement', () => {
    // As the regular expression `^(.*-){20}z$` this is about 10^16 placements (it never ends).
    const stars = `${'*-'.repeat(20)}z`;
    expect(matchesDatabase(stars, `a${'-'.repeat(61)}b`)).toBe(false);
    expect(matchesDatabase(stars, `a${'-'.repeat(61)}z`)).toBe(true);
  });
});

describe('GrantedPrincipal', () => {
  const tenant: Grant[] = [{ role: 'write', databases: 'acme-*' }];
  const union: Grant[] = [
    { role: 'write', databases: 'acme-*' },
    { role: 'read', databases: 'shared' },
  ];
  const everything: Grant[] = [{ role: 'write', databases: '*' }];
  const reader: Grant[] = [{ role: 'read', databases: '*' }];

  it.each<[string, Grant[], Role, string, boolean]>([
    ['a tenant key writes its own database', tenant, 'write', 'acme-1', true],
    ['a tenant key reads its own database', tenant, 'read', 'acme-1', true],
    ["a tenant key cannot read another tenant's database", tenant, 'read', 'globex-1', false],
    ["a tenant key cannot write another tenant's database", tenant, 'write', 'globex-1', false],
    ['a union reads the extra database', union, 'read', 'shared', true],
    ['a union cannot write the database it may only read', union, 'write', 'shared', false],
    ['a union still writes its own', union, 'write', 'acme-2', true],
    ['an unscoped write key writes anything', everything, 'write', 'whatever', true],
    ['a read key cannot write', reader, 'write', 'main', false],
    ['a read key reads anything', reader, 'read', 'main', true],
  ])('%s', (_name, grants, need, database, allowed) => {
    const principal = new GrantedPrincipal('key:00000000', grants);
    if (allowed) expect(() => principal.authorize(need, database)).not.toThrow();
    else expect(() => principal.authorize(need, database)).toThrow(ForbiddenError);
    // GET /databases lists by the patterns: exactly the databases the key may read.
    const mayRead = (() => {
      try {
        principal.authorize('read', database);
        return true;
      } catch {
        return false;
      }
    })();
    expect(principal.patterns.some((pattern) => matchesDatabase(pattern, database))).toBe(mayRead);
  });

  it('answers the same for a database that exists and one that does not: the body names only what the caller sent', () => {
    const principal = new GrantedPrincipal('key:00000000', tenant);
    const refusal = (database: string) => {
      try {
        principal.authorize('read', database);
      } catch (error) {
        return { code: (error as ForbiddenError).code, message: (error as Error).message.replace(database, '<db>') };
      }
      return undefined;
    };
    // The principal never looks anything up, so existence cannot change its answer.
    expect(refusal('globex-exists')).toEqual(refusal('globex-never-created'));
    expect(refusal('globex-exists')).toEqual({ code: 'FORBIDDEN', message: 'this API key may not read the database "<db>"' });
  });

  it('takes the highest role of its grants as its role', () => {
    expect(new GrantedPrincipal('k', union).role).toBe('write');
    expect(new GrantedPrincipal('k', reader).role).toBe('read');
  });

  it('roleOn gives the role the key holds on one database', () => {
    const principal = new GrantedPrincipal('k', union);
    expect(roleOn(principal, 'acme-1')).toBe('write');
    expect(roleOn(principal, 'shared')).toBe('read');
  });
});
