import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { ActualAccount, ActualState, DesiredAccount, Grant } from '../../reconciler/src/model/types.js';
import { applyPolicy, policies, POLICY_NAMES } from '../../reconciler/src/plan/policy.js';
import { mysql8 } from '../../reconciler/src/dialect/mysql.js';
import { hasChanges, plan, type PlanOptions } from '../../reconciler/src/plan/plan.js';
import { isBuiltInProtected } from '../../reconciler/src/model/protected.js';
import {
  aliceReadonly,
  aliceReadwrite,
  bobReporting,
  bobUnmanaged,
  carolIam,
  onServer,
  ordersCluster,
  reportingRole,
  OWNER,
  secretOk,
  select,
  serverMatching,
  target,
} from '../support/fixtures.js';

const now = 1_800_000_000;
const opts: PlanOptions = { now };
const kinds = (p: ReturnType<typeof plan>) => p.actions.map((a) => `${a.kind} ${a.user}`);

describe('plan', () => {
  it('is empty when the server matches the YAML: plan(x, x)', () => {
    const declared = [aliceReadonly, bobReporting, reportingRole, carolIam];
    const p = plan(target(...declared), serverMatching(declared), opts);
    expect(p.actions).toEqual([]);
    expect(hasChanges(p)).toBe(false);
  });

  it.each([
    {
      name: 'creates a missing user with its grants and secret',
      declared: [aliceReadonly],
      server: serverMatching([]),
      expected: ['create_user alice'],
    },
    {
      name: 'creates the role before the user that holds it',
      declared: [bobReporting, reportingRole],
      server: serverMatching([]),
      expected: ['create_role reporting', 'create_user bob'],
    },
    {
      name: 'changes grants of an owned user',
      declared: [aliceReadwrite],
      server: serverMatching([aliceReadonly]),
      expected: ['update_grant alice'],
    },
    {
      name: 'deletes an owned user that is no longer declared',
      declared: [],
      server: serverMatching([aliceReadonly]),
      expected: ['delete_user alice'],
    },
    {
      name: 'drops an owned role that is no longer declared',
      declared: [],
      server: serverMatching([reportingRole]),
      expected: ['drop_role reporting'],
    },
    {
      name: 'leaves an unmanaged account alone',
      declared: [],
      server: serverMatching([], { accounts: [bobUnmanaged] }),
      expected: [],
    },
    {
      name: 'does not change a declared account it does not own',
      declared: [{ ...aliceReadwrite, user: 'bob' }],
      server: serverMatching([], { accounts: [bobUnmanaged] }),
      expected: [],
    },
    {
      name: 'adopts a declared unmanaged account when the YAML says so',
      declared: [{ ...aliceReadwrite, user: 'bob', adopt: true }],
      server: serverMatching([], { accounts: [bobUnmanaged] }),
      expected: ['create_user bob'],
    },
    {
      name: 'cleans up an ownership record whose account is gone',
      declared: [],
      server: serverMatching([], {
        owned: [
          { user: 'ghost', host: '%', kind: 'user', secretName: 'rds-orders-ghost-secret', owner: OWNER },
        ],
      }),
      expected: ['delete_user ghost'],
    },
  ])('$name', ({ declared, server, expected }) => {
    expect(kinds(plan(target(...declared), server, opts))).toEqual(expected);
  });

  it('keeps a secret that a declared account takes over from a deleted one', () => {
    const renamed = { ...aliceReadonly, user: 'alice2' };
    const p = plan(target(renamed), serverMatching([aliceReadonly]), opts);
    expect(p.actions.find((a) => a.kind === 'delete_user')).toMatchObject({
      user: 'alice',
      secretName: undefined,
    });
  });

  it('leaves alone the accounts another cluster on the same server owns', () => {
    const server = serverMatching([aliceReadonly, bobReporting]);
    server.owned = server.owned.map((o) => (o.user === 'bob' ? { ...o, owner: '111122223333/billing' } : o));
    const p = plan(target(aliceReadonly, { ...bobReporting, adopt: true }), server, {
      ...opts,
      allowDeletes: true,
    });
    expect(p.actions).toEqual([]);
    expect(p.skipped).toEqual([
      expect.objectContaining({
        user: 'bob',
        reason: 'not adopted',
        detail: expect.stringContaining('managed by dbusers for 111122223333/billing'),
      }),
    ]);
    const undeclared = plan(target(aliceReadonly), server, { ...opts, allowDeletes: true });
    expect(undeclared.actions).toEqual([]);
    expect(undeclared.skipped).toEqual([expect.objectContaining({ user: 'bob', reason: 'unmanaged' })]);
  });

  it('update_grant carries the full desired grant set, what was there before, and why', () => {
    const p = plan(target(aliceReadwrite), serverMatching([aliceReadonly]), opts);
    expect(p.actions[0]).toMatchObject({
      kind: 'update_grant',
      grants: aliceReadwrite.grants,
      before: { grants: aliceReadonly.grants, roles: [] },
      reason: 'grants differ: +INSERT on orders.*',
    });
  });

  it('holds a role marked default: false without making it default, on MySQL 8 where several are', () => {
    const reporting = { ...reportingRole, host: '%' };
    const audit = { ...reporting, user: 'audit' };
    const bob = { ...bobReporting, roles: ['audit', 'reporting'], nonDefaultRoles: ['audit'] };
    const mysql = { multipleDefaultRoles: true, roleHost: '%' };
    expect(
      plan(target(bob, reporting, audit), serverMatching([bob, reporting, audit], mysql), opts).actions,
    ).toEqual([]);
    const allDefault = serverMatching([{ ...bob, nonDefaultRoles: undefined }, reporting, audit], mysql);
    expect(plan(target(bob, reporting, audit), allDefault, opts).actions).toEqual([
      expect.objectContaining({
        kind: 'update_grant',
        user: 'bob',
        roles: ['audit', 'reporting'],
        nonDefaultRoles: ['audit'],
        reason: 'default roles differ',
      }),
    ]);
    expect(mysql8.setDefaultRoles("'bob'@'%'", ['reporting'])).toEqual([
      "SET DEFAULT ROLE 'reporting'@'%' TO 'bob'@'%'",
    ]);
  });

  it('refuses to adopt an account with MySQL partial revokes, which no YAML declares', () => {
    const adopted = { ...aliceReadonly, adopt: true };
    const server = serverMatching([], {
      accounts: [{ ...onServer(adopted), partialRevokes: ['SELECT on mysql.*'] }],
    });
    const p = plan(target(adopted), server, opts);
    expect(p.actions).toEqual([]);
    expect(p.skipped).toEqual([
      expect.objectContaining({
        user: 'alice',
        reason: 'unsupported',
        detail: expect.stringMatching(/^it holds MySQL partial revokes \(SELECT on mysql\.\*\)/),
      }),
    ]);
  });

  it('reports an extra grant as a revoke in the reason', () => {
    const p = plan(target(aliceReadonly), serverMatching([aliceReadwrite]), opts);
    expect(p.actions[0]?.reason).toBe('grants differ: -INSERT on orders.*');
  });

  it('records what it did not act on', () => {
    const p = plan(
      target({ ...aliceReadonly, user: 'bob' }),
      serverMatching([], {
        accounts: [bobUnmanaged, { ...bobUnmanaged, user: 'rdsadmin', host: 'localhost' }],
      }),
      opts,
    );
    expect(p.skipped).toEqual([
      expect.objectContaining({ user: 'bob', reason: 'not adopted' }),
      expect.objectContaining({ user: 'rdsadmin', reason: 'protected' }),
    ]);
  });

  it('never touches protected accounts, even when the registry claims them', () => {
    const admin = { ...onServer(aliceReadonly), user: 'admin' };
    const rds = { ...onServer(aliceReadonly), user: 'rdsadmin', host: 'localhost' };
    const listed = { ...onServer(aliceReadonly), user: 'legacy_app' };
    const server = serverMatching([], {
      accounts: [admin, rds, listed],
      owned: [admin, rds, listed].map((a) => ({
        user: a.user,
        host: a.host,
        kind: 'user' as const,
        owner: OWNER,
      })),
    });
    const p = plan(
      { cluster: { ...ordersCluster, protectedAccounts: ['legacy_app'] }, accounts: [] },
      server,
      { ...opts, allowDeletes: true },
    );
    expect(p.actions).toEqual([]);
    expect(p.skipped.map((s) => s.reason)).toEqual(['protected', 'protected', 'protected']);
  });

  describe('delete limit', () => {
    const many = Array.from({ length: 12 }, (_, i) => ({
      ...aliceReadonly,
      user: `u${String(i).padStart(2, '0')}`,
      secretName: `s${i}`,
    }));
    it.each([
      {
        name: 'allows one delete of one owned account',
        owned: many.slice(0, 1),
        declared: [],
        allowDeletes: false,
        deletes: 1,
      },
      {
        name: 'refuses more than half of the owned accounts',
        owned: many.slice(0, 4),
        declared: many.slice(0, 1),
        allowDeletes: false,
        deletes: 0,
      },
      {
        name: 'allows half of the owned accounts',
        owned: many.slice(0, 4),
        declared: many.slice(0, 2),
        allowDeletes: false,
        deletes: 2,
      },
      { name: 'refuses more than ten', owned: many, declared: [], allowDeletes: false, deletes: 0 },
      {
        name: 'allows anything when deletes are allowed',
        owned: many,
        declared: [],
        allowDeletes: true,
        deletes: 12,
      },
    ])('$name', ({ owned, declared, allowDeletes, deletes }) => {
      const p = plan(target(...declared), serverMatching(owned), { ...opts, allowDeletes });
      expect(p.actions.filter((a) => a.kind === 'delete_user')).toHaveLength(deletes);
      expect(p.skipped.filter((s) => s.reason === 'over delete limit')).toHaveLength(
        deletes === 0 ? owned.length - declared.length : 0,
      );
    });
  });

  describe('passwords', () => {
    const secretName = aliceReadonly.secretName!;
    it.each([
      { name: 'resets when the secret is missing', secrets: {}, extra: {}, reason: 'secret missing' },
      {
        name: 'resets when the secret is deleted',
        secrets: { [secretName]: { ...secretOk(secretName), deleted: true } },
        extra: {},
        reason: 'secret missing',
      },
      {
        name: 'finishes an interrupted reset',
        secrets: { [secretName]: { ...secretOk(secretName), hasPending: true } },
        extra: {},
        reason: 'finish an interrupted reset (pending secret version)',
      },
      {
        name: 'resets on request',
        secrets: { [secretName]: secretOk(secretName) },
        extra: { resetRequested: ['alice@%'] },
        reason: 'reset requested',
      },
      {
        name: 'rotates when the password is older than rotationDays',
        secrets: { [secretName]: secretOk(secretName, now - 31 * 86_400) },
        extra: {},
        reason: 'password is 31 days old (rotationDays: 30)',
      },
      {
        name: 'leaves rotation to the store when it rotates itself',
        secrets: { [secretName]: { ...secretOk(secretName, now - 31 * 86_400), rotationEnabled: true } },
        extra: {},
        reason: undefined,
      },
      {
        name: 'leaves a young password alone',
        secrets: { [secretName]: secretOk(secretName, now - 29 * 86_400) },
        extra: {},
        reason: undefined,
      },
    ])('$name', ({ secrets, extra, reason }) => {
      const alice = { ...aliceReadonly, rotationDays: 30 };
      const p = plan(target(alice), { ...serverMatching([alice]), secrets }, { ...opts, ...extra });
      expect(p.actions.find((a) => a.kind === 'reset_password')?.reason).toBe(reason);
    });
  });

  it('accepts a locked stand-in for an IAM user on a server without the IAM plugin', () => {
    const server = serverMatching([carolIam], { supportsIamAuth: false });
    server.accounts[0]!.auth = 'none';
    expect(plan(target(carolIam), server, opts).actions).toEqual([]);
  });

  it('refuses to create an IAM user on a server without the IAM plugin, unless the executor makes a locked stand-in (local mode)', () => {
    const server = serverMatching([], { supportsIamAuth: false });
    expect(plan(target(carolIam), server, opts).skipped).toEqual([
      {
        user: 'carol',
        host: '%',
        reason: 'unsupported',
        detail:
          'auth: iam, but the server has no AWSAuthenticationPlugin: enable IAM database authentication on the cluster first (users/payments-prod.yaml:1)',
      },
    ]);
    expect(kinds(plan(target(carolIam), { ...server, iamStandIn: true }, opts))).toEqual([
      'create_user carol',
    ]);
    expect(kinds(plan(target(carolIam), serverMatching([]), opts))).toEqual(['create_user carol']);
  });

  it('reports, and does not silently accept, a password user declared as IAM', () => {
    const p = plan(target(carolIam), serverMatching([{ ...carolIam, auth: 'password' }]), opts);
    expect(p.skipped).toEqual([expect.objectContaining({ user: 'carol', reason: 'unsupported' })]);
  });

  it('resets a password user that has no password on the server', () => {
    const server = serverMatching([aliceReadonly]);
    server.accounts[0]!.auth = 'none';
    expect(plan(target(aliceReadonly), server, opts).actions).toEqual([
      expect.objectContaining({ kind: 'reset_password', reason: 'the account has no password' }),
    ]);
  });

  it('names the rds-db:connect resource of each IAM user', () => {
    const p = plan(
      {
        cluster: { ...ordersCluster, resourceId: 'cluster-ABC' },
        accounts: [{ ...carolIam, iamPrincipals: ['arn:aws:iam::111122223333:role/app'] }],
      },
      serverMatching([]),
      opts,
    );
    expect(p.iamConnect).toEqual([
      {
        user: 'carol',
        resource: 'arn:aws:rds-db:eu-west-1:111122223333:dbuser:cluster-ABC/carol',
        principals: ['arn:aws:iam::111122223333:role/app'],
      },
    ]);
  });

  it('gives roles the host of the server, whatever was declared', () => {
    const mysqlRole = { ...reportingRole, host: '%' };
    expect(plan(target(mysqlRole), serverMatching([reportingRole]), opts).actions).toEqual([]);
  });
});

describe('plan, trust', () => {
  const root = (host: string) => ({ ...bobUnmanaged, user: 'root', host });

  it('never touches root or the admin user on any host, even declared with adopt', () => {
    const server = serverMatching([], {
      accounts: [root('127.0.0.1'), { ...bobUnmanaged, user: 'admin', host: '10.0.0.1' }],
      adminUsers: ['admin'],
    });
    const p = plan(
      target(
        { ...aliceReadonly, user: 'root', host: '127.0.0.1', adopt: true },
        { ...aliceReadonly, user: 'admin', host: '10.0.0.1', adopt: true },
      ),
      server,
      opts,
    );
    expect(p.actions).toEqual([]);
    expect(p.skipped.map((s) => `${s.reason} ${s.user}@${s.host}`)).toEqual([
      'protected admin@10.0.0.1',
      'protected root@127.0.0.1',
    ]);
  });

  it('leaves alone an account whose registry row fails its integrity check, and says so', () => {
    const server = serverMatching([], {
      accounts: [{ ...bobUnmanaged, user: 'victim' }],
      unverifiedClaims: [{ user: 'victim', host: '%' }],
    });
    const p = plan(target(), server, opts);
    expect(p.actions).toEqual([]);
    expect(p.skipped).toEqual([expect.objectContaining({ user: 'victim', reason: 'unverified ownership' })]);
  });

  it('adopts an account holding global privileges only where the file names the exception', () => {
    const held = {
      ...bobUnmanaged,
      user: 'alice',
      grants: [select('orders'), { level: 'global' as const, privilege: 'PROCESS' }],
    };
    const wanted = { ...aliceReadonly, adopt: true };
    const refused = plan(target(wanted), serverMatching([], { accounts: [held] }), opts);
    expect(refused.actions).toEqual([]);
    expect(refused.skipped).toEqual([
      expect.objectContaining({
        reason: 'privilege policy',
        detail: expect.stringMatching(/PROCESS on \*\.\*/),
      }),
    ]);
    const exception = {
      user: 'alice',
      target: { level: 'global' as const },
      privileges: ['PROCESS'],
      reason: 'reviewed: the agent reads the process list',
    };
    const allowed = plan(
      { cluster: { ...ordersCluster, privilegeExceptions: [exception] }, accounts: [wanted] },
      serverMatching([], { accounts: [held] }),
      opts,
    );
    expect(kinds(allowed)).toEqual(['create_user alice']);
  });

  it('shows the grants an exception allows, with its reason', () => {
    const monitor = {
      ...aliceReadonly,
      user: 'monitor',
      grants: [{ level: 'global' as const, privilege: 'PROCESS' }],
    };
    const exception = {
      user: 'monitor',
      target: { level: 'global' as const },
      privileges: ['PROCESS'],
      reason: 'reviewed: the agent reads the process list',
    };
    const p = plan(
      { cluster: { ...ordersCluster, privilegeExceptions: [exception] }, accounts: [monitor] },
      serverMatching([monitor]),
      opts,
    );
    expect(p.exceptions).toEqual([
      { user: 'monitor', host: '%', grant: 'PROCESS on *.*', reason: exception.reason },
    ]);
  });

  it("resets a password that is not the secret's, with that reason", () => {
    const server = serverMatching([aliceReadonly]);
    server.accounts[0]!.passwordMatchesSecret = false;
    const p = plan(target(aliceReadonly), server, opts);
    expect(p.actions).toEqual([
      expect.objectContaining({
        kind: 'reset_password',
        user: 'alice',
        reason: expect.stringMatching(/not the secret's/),
      }),
    ]);
  });

  it('reports, and leaves alone, a managed account holding MySQL partial revokes', () => {
    const server = serverMatching([aliceReadonly]);
    server.accounts[0]!.partialRevokes = ['SELECT on mysql.*'];
    const p = plan(target(aliceReadwrite), server, opts);
    expect(p.actions).toEqual([]);
    expect(p.skipped).toEqual([
      expect.objectContaining({
        user: 'alice',
        reason: 'unsupported',
        detail: expect.stringMatching(/partial revokes \(SELECT on mysql\.\*\)/),
      }),
    ]);
  });

  it('cleans up ownership records of accounts that never existed without counting them against the delete limit', () => {
    const claims = Array.from({ length: 30 }, (_, i) => ({
      user: `ghost${i}`,
      host: '%',
      kind: 'user' as const,
      owner: OWNER,
    }));
    const p = plan(
      target(aliceReadonly),
      serverMatching([aliceReadonly], { owned: [...serverMatching([aliceReadonly]).owned, ...claims] }),
      opts,
    );
    expect(p.actions).toHaveLength(30);
    expect(p.skipped).toEqual([]);
  });
});

describe('policies', () => {
  const full = plan(
    target(aliceReadwrite, bobReporting, reportingRole),
    serverMatching([aliceReadonly, { ...carolIam }]),
    { ...opts, allowDeletes: true },
  );
  it.each([
    { policy: 'sync' as const, kept: ['create_role', 'create_user', 'update_grant', 'delete_user'] },
    { policy: 'upsert-only' as const, kept: ['create_role', 'create_user', 'update_grant'] },
    { policy: 'create-only' as const, kept: ['create_role', 'create_user'] },
  ])('$policy keeps $kept', ({ policy, kept }) => {
    const p = applyPolicy(full, policy);
    expect(p.actions.map((a) => a.kind)).toEqual(kept);
    expect(p.skipped.filter((s) => s.reason === 'filtered by policy')).toHaveLength(
      full.actions.length - kept.length,
    );
  });
  it('names every policy in the registry', () => {
    expect(Object.keys(policies).sort()).toEqual([...POLICY_NAMES].sort());
  });
});

describe('plan laws', () => {
  const grantArb: fc.Arbitrary<Grant> = fc.oneof(
    fc.record({
      level: fc.constant('database' as const),
      database: fc.constantFrom('orders', 'audit', 'a_b'),
      privilege: fc.constantFrom('SELECT', 'INSERT', 'UPDATE'),
    }),
    fc.record({
      level: fc.constant('table' as const),
      database: fc.constantFrom('orders'),
      table: fc.constantFrom('t1', "it's"),
      privilege: fc.constantFrom('SELECT', 'DELETE'),
    }),
  );
  const accountArb: fc.Arbitrary<DesiredAccount> = fc
    .record({
      name: fc.constantFrom('alice', 'bob', "o'brien", 'a%b', 'ü'),
      host: fc.constantFrom('%', 'localhost'),
      grants: fc.uniqueArray(grantArb, { maxLength: 4, selector: (g) => JSON.stringify(g) }),
    })
    .map(({ name, host, grants }) => ({
      ...aliceReadonly,
      user: name,
      host,
      grants,
      secretName: `s-${encodeURIComponent(name)}-${host}`,
    }));
  const desiredArb = fc.uniqueArray(accountArb, { maxLength: 5, selector: (a) => `${a.user}@${a.host}` });

  it('plan(d, server matching d) is empty for any d', () => {
    fc.assert(fc.property(desiredArb, (d) => !hasChanges(plan(target(...d), serverMatching(d), opts))));
  });

  it('is deterministic whatever the order of its inputs', () => {
    fc.assert(
      fc.property(desiredArb, desiredArb, (d, a) => {
        const server: ActualState = serverMatching(a);
        const p1 = plan(target(...d), server, { ...opts, allowDeletes: true });
        const p2 = plan(
          target(...[...d].reverse()),
          { ...server, accounts: [...server.accounts].reverse() },
          { ...opts, allowDeletes: true },
        );
        expect(p2).toEqual(p1);
      }),
    );
  });

  it('round-trips through JSON', () => {
    fc.assert(
      fc.property(desiredArb, desiredArb, (d, a) => {
        const p = plan(target(...d), serverMatching(a), { ...opts, allowDeletes: true });
        expect(JSON.parse(JSON.stringify(p))).toEqual(p);
      }),
    );
  });
});

describe('privileges the server does not have yet', () => {
  it('refuses, as a missing privilege, an account granted SHOW CREATE ROUTINE on MariaDB before 11.3, and plans it on 11.4', () => {
    const want: DesiredAccount = {
      ...aliceReadonly,
      grants: [
        ...aliceReadonly.grants,
        { level: 'database', database: 'orders', privilege: 'SHOW CREATE ROUTINE' },
      ],
    };
    // The YAML declares 11.4 (else validation refuses the privilege); the server turns out older.
    const declared = { ...target(want), cluster: { ...ordersCluster, engineVersion: '11.4.5' } };
    const old = plan(declared, serverMatching([], { version: '10.11.19-MariaDB' }), opts);
    expect(old.actions).toEqual([]);
    expect(old.skipped).toContainEqual({
      user: want.user,
      host: want.host,
      reason: 'missing privilege',
      detail: expect.stringMatching(
        /^its grants name SHOW CREATE ROUTINE, which this server \(10\.11\.19-MariaDB\) does not have/,
      ),
    });
    const newer = plan(declared, serverMatching([], { version: '11.4.2-MariaDB' }), opts);
    expect(kinds(newer)).toEqual([`create_user ${want.user}`]);
  });
});

describe('secret names', () => {
  it('refuses to move a password to another secret, and to give away a secret a declared account uses', () => {
    const moved = { ...aliceReadonly, secretName: 'rds-orders-alice-v2' };
    const taker: DesiredAccount = { ...aliceReadonly, user: 'bob', secretName: aliceReadonly.secretName };
    // The server as the last apply left it: alice's password in rds-orders-alice-secret.
    const actual = serverMatching([aliceReadonly]);
    const p = plan(target(moved, taker), actual, opts);
    expect(p.actions).toEqual([]);
    expect(p.skipped.map((s) => [s.user, s.reason, s.detail.replace(/ \(users\/.*\)$/, '')])).toEqual([
      [
        'alice',
        'secret name',
        'its password is in secret rds-orders-alice-secret, and the YAML names rds-orders-alice-v2: dbusers never moves a password to another secret',
      ],
      [
        'bob',
        'secret name',
        "secret rds-orders-alice-secret holds the password of 'alice'@'%', which stays declared",
      ],
    ]);
  });

  it('hands the secret of an account no longer declared to the account that names it', () => {
    const taker: DesiredAccount = { ...aliceReadonly, user: 'bob', secretName: aliceReadonly.secretName };
    const actual = serverMatching([aliceReadonly]);
    expect(kinds(plan(target(taker), actual, { ...opts, allowDeletes: true }))).toEqual([
      'create_user bob',
      'delete_user alice',
    ]);
  });

  it('refuses, as a missing privilege, a role change the connected account may not make: no ADMIN OPTION (MariaDB), nor ROLE_ADMIN (MySQL)', () => {
    // `reporting` was made by someone else and is adopted; `fresh` is made by this plan, so its maker holds it.
    const reporting = { ...reportingRole, adopt: true };
    const fresh: DesiredAccount = { ...reportingRole, user: 'fresh' };
    const bob = { ...bobReporting, roles: ['reporting', 'fresh'] };
    const server = (admin: Partial<ActualAccount>, ...roles: ActualAccount[]) =>
      serverMatching([], {
        accounts: [
          { ...onServer(aliceReadonly), user: 'admin', grants: [], roles: [], ...admin },
          onServer(reporting),
          ...roles,
        ],
      });
    const skipped = (actual: ActualState) =>
      plan(target(reporting, fresh, bob), actual, opts)
        .skipped.filter((s) => s.reason === 'missing privilege')
        .map((s) => [s.user, s.reason, s.detail]);

    expect(skipped(server({}))).toEqual([
      [
        'bob',
        'missing privilege',
        "'admin'@'%', the account dbusers connects as, does not hold role reporting WITH ADMIN OPTION, which MariaDB requires to grant or revoke it: have an account that holds it so run GRANT reporting TO 'admin'@'%' WITH ADMIN OPTION, or make this change by hand (users/payments-prod.yaml:1)",
      ],
    ]);
    expect(kinds(plan(target(reporting, fresh, bob), server({}), opts))).toEqual([
      'create_role fresh',
      'create_role reporting',
    ]);
    // Held WITH ADMIN OPTION by the account itself, or through a role it holds, however deep.
    expect(skipped(server({ roles: ['reporting'], adminRoles: ['reporting'] }))).toEqual([]);
    const keys = (name: string, roles: string[], adminRoles: string[]): ActualAccount => ({
      ...onServer(reportingRole),
      user: name,
      roles,
      adminRoles,
    });
    expect(
      skipped(server({ roles: ['outer'] }, keys('outer', ['inner'], []), keys('inner', [], ['reporting']))),
    ).toEqual([]);
    // Held without the option is not enough.
    expect(skipped(server({ roles: ['reporting'] }))).toHaveLength(1);
    // MySQL (its documented rules: no MySQL server here): ROLE_ADMIN, held or through a role such as
    // RDS's rds_superuser_role, grants any role; without it, only the ADMIN OPTION does, and a role's
    // creator does not get it, so the role this plan makes is refused too.
    const mysql = (admin: Partial<ActualAccount>, ...roles: ActualAccount[]): ActualState => ({
      ...server(admin, ...roles),
      engine: 'mysql',
      roleHost: '%',
    });
    expect(skipped(mysql({}))).toEqual([
      [
        'bob',
        'missing privilege',
        "'admin'@'%', the account dbusers connects as, holds neither ROLE_ADMIN nor role reporting, fresh WITH ADMIN OPTION, one of which MySQL requires to grant or revoke them (on RDS and Aurora the master user has ROLE_ADMIN from MySQL 8.0.36 and Aurora MySQL 3): grant it ROLE_ADMIN, or make this change by hand (users/payments-prod.yaml:1)",
      ],
    ]);
    const roleAdmin = [{ level: 'global', privilege: 'ROLE_ADMIN' }] as Grant[];
    expect(skipped(mysql({ grants: roleAdmin }))).toEqual([]);
    expect(
      skipped(
        mysql(
          { roles: ['rds_superuser_role'] },
          { ...keys('rds_superuser_role', [], []), grants: roleAdmin },
        ),
      ),
    ).toEqual([]);
    expect(skipped(mysql({ roles: ['reporting', 'fresh'], adminRoles: ['reporting', 'fresh'] }))).toEqual([]);
  });
});

describe('built-in accounts', () => {
  it("protects Aurora's AWS_ roles in any case, and no other name, as /^AWS_/i does", () => {
    for (const user of ['AWS_LOAD_S3_ACCESS', 'aws_x', 'Aws_', 'root', 'PUBLIC', ''])
      expect(isBuiltInProtected(user)).toBe(true);
    for (const user of ['AWS', 'AWSX', 'xAWS_', 'ΑWS_', 'AWS-', 'app'])
      expect(isBuiltInProtected(user)).toBe(false);
    // Beside the named built-ins (which no generated name here is), exactly what /^AWS_/i says.
    fc.assert(
      fc.property(fc.string({ unit: 'binary', minLength: 1 }), (rest) => {
        for (const user of [`x${rest}`, `aws_${rest}`, `AWS_${rest}`, `aWs${rest}`, `${rest}AWS_`])
          expect(isBuiltInProtected(user)).toBe(/^AWS_/i.test(user));
      }),
    );
  });
});
