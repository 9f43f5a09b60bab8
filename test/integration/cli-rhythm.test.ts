/**
 * The ldap2pg rhythm, end to end through the CLI on a real MariaDB: plan says out of sync → apply →
 * in sync → change the database by hand → drift found → apply → in sync. An account made by hand
 * and every protected account survive every run.
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FileSecretStore } from '../../reconciler/src/adapters/local/file-secret-store.js';
import type { Database } from '../../reconciler/src/adapters/mysql/database.js';
import { cli, exampleWorkspace, useServer } from '../support/cli.js';
import { allowed, loginAs, startTestServer, type TestServer } from '../support/server.js';

let server: TestServer;
let admin: Database;
let work: string;
const usersDir = () => join(work, 'users');
const secrets = () => new FileSecretStore(join(work, 'state', 'secrets', '111122223333'));

async function passwordOf(secretName: string): Promise<string> {
  const value = await secrets().getValue(secretName, 'AWSCURRENT');
  if (!value) throw new Error(`no current value in ${secretName}`);
  return value.password;
}

async function accounts(): Promise<string[]> {
  const rows = await admin.query<{ a: string }>(
    "SELECT CONCAT(User, '@', Host) AS a FROM mysql.global_priv ORDER BY 1",
  );
  return rows.map((r) => r.a);
}

beforeAll(async () => {
  server = await startTestServer();
  admin = await server.admin();
  for (const sql of [
    'CREATE DATABASE orders',
    'CREATE DATABASE audit',
    'CREATE TABLE orders.invoices (id INT PRIMARY KEY, total INT)',
    'CREATE TABLE orders.customers (id INT PRIMARY KEY)',
    'CREATE TABLE audit.events (id INT PRIMARY KEY)',
    "CREATE USER 'handmade'@'%' IDENTIFIED BY 'by-hand-1'",
    "GRANT SELECT ON orders.* TO 'handmade'@'%'",
  ])
    await admin.query(sql);
  work = exampleWorkspace();
  useServer(server.url, work);
});

afterAll(async () => {
  await admin?.close();
  await server?.stop();
});

describe('dbusers CLI on the DESIGN §3 example', () => {
  let before: string[];

  it('validates the example as it stands', async () => {
    const r = await cli('validate', usersDir());
    expect(r.code).toBe(0);
  });

  it('plan exits 2 when the server is out of sync and changes nothing', async () => {
    before = await accounts();
    const r = await cli('plan', usersDir());
    expect(r.code).toBe(2);
    expect(r.out).toContain("+ create user 'audit_rw'@'%'");
    expect(r.out).toContain("+ create role 'reporting'");
    expect(r.out).toContain('Plan: 3 to create, 0 to change, 0 to delete.');
    expect(await accounts()).toEqual(before);
  });

  it('apply --yes exits 0 and plan then exits 0', async () => {
    const r = await cli('apply', usersDir(), '--yes');
    expect(r.err).not.toContain('failed');
    expect(r.code).toBe(0);
    expect(r.out).toContain('Apply complete: 3 created, 0 changed, 0 deleted.');
    expect((await cli('plan', usersDir())).code).toBe(0);
  });

  it('audit_rw logs in with its secret and holds exactly the declared rights', async () => {
    const db = await loginAs(server, 'audit_rw', await passwordOf('rds-orders-audit_rw-secret'));
    try {
      expect(await allowed(db, 'INSERT INTO audit.events VALUES (1)')).toBe(true);
      expect(await allowed(db, 'UPDATE audit.events SET id = 2')).toBe(true);
      expect(await allowed(db, 'SELECT * FROM audit.events')).toBe(true);
      expect(await allowed(db, 'DELETE FROM audit.events')).toBe(true);
      expect(await allowed(db, 'SELECT * FROM orders.invoices')).toBe(true);
      expect(await allowed(db, 'INSERT INTO orders.invoices VALUES (1, 1)')).toBe(false);
      expect(await allowed(db, 'SELECT * FROM orders.customers')).toBe(false);
      expect(await allowed(db, 'CREATE TABLE audit.mine (id INT)')).toBe(false);
      const [role] = await db.query<{ r: string }>('SELECT CURRENT_ROLE() AS r');
      expect(role?.r).toBe('reporting');
    } finally {
      await db.close();
    }
  });

  it('a hand-made GRANT is drift: plan and drift exit 2, apply removes it', async () => {
    await admin.query("GRANT INSERT ON orders.invoices TO 'audit_rw'@'%'");
    const plan = await cli('plan', usersDir());
    expect(plan.code).toBe(2);
    expect(plan.out).toContain('- INSERT on orders.invoices');
    expect((await cli('drift', usersDir())).code).toBe(2);
    expect((await cli('apply', usersDir(), '--yes')).code).toBe(0);
    expect((await cli('plan', usersDir())).code).toBe(0);
    const db = await loginAs(server, 'audit_rw', await passwordOf('rds-orders-audit_rw-secret'));
    expect(await allowed(db, 'INSERT INTO orders.invoices VALUES (2, 2)')).toBe(false);
    await db.close();
  });

  it('never touches the account made by hand, nor root', async () => {
    const handmade = await loginAs(server, 'handmade', 'by-hand-1');
    expect(await allowed(handmade, 'SELECT * FROM orders.customers')).toBe(true);
    await handmade.close();
    const grants = await admin.query("SHOW GRANTS FOR 'handmade'@'%'");
    expect(grants.map((g) => Object.values(g)[0])).toContain('GRANT SELECT ON `orders`.* TO `handmade`@`%`');
    expect(await accounts()).toEqual(
      expect.arrayContaining(['handmade@%', 'root@localhost', 'mariadb.sys@localhost']),
    );
  });

  it('deletes a user removed from the YAML, schedules its secret for deletion, and keeps the rest', async () => {
    const file = join(usersDir(), 'payments-prod.yaml');
    const text = readFileSync(file, 'utf8');
    writeFileSync(file, text.replace(/ {2}- name: app_iam[\s\S]*$/, ''));
    const plan = await cli('plan', usersDir());
    expect(plan.out).toContain("- delete user 'app_iam'@'%'");
    expect((await cli('apply', usersDir(), '--yes')).code).toBe(0);
    expect(await accounts()).not.toContain('app_iam@%');
    expect(await accounts()).toEqual(expect.arrayContaining(['audit_rw@%', 'handmade@%', 'root@localhost']));
    writeFileSync(file, text.replace(/roles:[\s\S]*$/, 'users: []\n')); // no user, no role: every managed account goes
    const refused = await cli('apply', usersDir(), '--yes');
    expect(refused.code).toBe(1);
    expect(refused.err).toContain('over the limit');
    expect(await accounts()).toContain('audit_rw@%');
    expect((await cli('apply', usersDir(), '--yes', '--allow-deletes')).code).toBe(0);
    expect(await accounts()).not.toContain('audit_rw@%');
    const secret = secrets().read('rds-orders-audit_rw-secret');
    expect(secret?.deletedAt).toBeDefined();
    expect(secret?.versions.length).toBeGreaterThan(0);
    expect(await accounts()).toEqual(expect.arrayContaining(['handmade@%', 'root@localhost']));
    writeFileSync(file, text);
  });

  it('asks before applying, and changes nothing when no one can answer', async () => {
    const file = join(usersDir(), 'payments-prod.yaml');
    const text = readFileSync(file, 'utf8');
    writeFileSync(file, text.replace('profile: readwrite', 'profile: readonly'));
    const before = await accounts();
    const r = await cli('apply', usersDir());
    expect(r.code).toBe(1);
    expect(r.err).toContain('pass --yes');
    expect(await accounts()).toEqual(before);
    writeFileSync(file, text);
  });

  it('imports an existing server as YAML that validates and, applied, adopts the account', async () => {
    await admin.query("CREATE USER 'legacy'@'10.0.%' IDENTIFIED BY 'legacy-pw'");
    await admin.query("GRANT SELECT, INSERT ON orders.invoices TO 'legacy'@'10.0.%'");
    const r = await cli('import', usersDir(), '--cluster', 'orders');
    expect(r.code).toBe(0);
    const imported = r.out
      .replace(/alias: payments-prod/, 'alias: legacy-import')
      .replace(/account: "111122223333"/, 'account: "999988887777"');
    expect(imported).toContain('name: legacy');
    expect(imported).toContain('adopt: true');
    const dir = join(work, 'imported');
    mkdirSync(dir);
    writeFileSync(
      join(dir, 'legacy-import.yaml'),
      imported.replace(
        /users:\n([\s\S]*)$/,
        (_, list: string) =>
          `users:\n${list
            .split(/\n(?= {2}- name: )/)
            .filter((u) => u.includes('name: legacy'))
            .join('\n')}\n`,
      ),
    );
    expect((await cli('validate', dir)).code).toBe(0);
    expect((await cli('plan', dir)).out).toContain("+ adopt user 'legacy'@'10.0.%'");
    expect((await cli('apply', dir, '--yes')).code).toBe(0);
    expect((await cli('plan', dir)).code).toBe(0);
    const grants = (await admin.query("SHOW GRANTS FOR 'legacy'@'10.0.%'")).map((g) => Object.values(g)[0]);
    expect(grants).toContain('GRANT SELECT, INSERT ON `orders`.`invoices` TO `legacy`@`10.0.%`');
    const [owned] = await admin.query<{ n: number }>(
      "SELECT COUNT(*) AS n FROM _dbusers.managed_accounts WHERE user = 'legacy'",
    );
    expect(Number(owned?.n)).toBe(1);
  });

  it('reports every problem of an invalid file and applies nothing', async () => {
    const file = join(usersDir(), 'payments-prod.yaml');
    const text = readFileSync(file, 'utf8');
    writeFileSync(
      file,
      text
        .replace('cluster: orders\n    auth: iam', 'cluster: ordrs\n    auth: iam')
        .replace('profile: readwrite', 'profile: writer'),
    );
    const before = await accounts();
    const r = await cli('apply', usersDir(), '--yes');
    expect(r.code).toBe(1);
    expect(r.err, r.err).toMatch(/payments-prod\.yaml:\d+:\d+ SCHEMA .*writer/);
    expect(await accounts()).toEqual(before);
    writeFileSync(file, text);
  });
});
