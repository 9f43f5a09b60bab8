/**
 * Replaying git and schedule events on a laptop: `dbusers event` with a real git repository and a
 * real MariaDB. A push applies what it changed (the same push again dispatches nothing), a push
 * touching no account file reconciles nothing, and the schedule finds a change made by hand.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FileSecretStore } from '../../reconciler/src/adapters/local/file-secret-store.js';
import { connect, type Database } from '../../reconciler/src/adapters/mysql/database.js';
import { cli, useServer } from '../support/cli.js';
import { repositoryStateChange, USERS_REPOSITORY } from '../support/events.js';
import { createExampleSchema, startTestServer, tempDir, type TestServer } from '../support/server.js';

let server: TestServer;
let admin: Database;
let repo: string;
const git = (...args: string[]) => execFileSync('git', ['-C', repo, ...args], { encoding: 'utf8' }).trim();

function commit(message: string, files: Record<string, string>): string {
  for (const [path, text] of Object.entries(files)) {
    mkdirSync(join(repo, path, '..'), { recursive: true });
    writeFileSync(join(repo, path), text);
  }
  git('add', '-A');
  git('-c', 'user.name=t', '-c', 'user.email=t@example.com', 'commit', '-q', '-m', message);
  return git('rev-parse', 'HEAD');
}

/** The documented plain-push event (reference/events-and-infra.md §2.1) for two commits. */
function pushEvent(before: string, after: string): string {
  const file = join(tempDir(), 'push.json');
  const event = repositoryStateChange(
    { commitId: after, oldCommitId: before, repositoryName: 'users' },
    { id: `push-${after}`, ...USERS_REPOSITORY },
  );
  writeFileSync(file, JSON.stringify(event));
  return file;
}

const schedule = () => {
  const file = join(tempDir(), 'schedule.json');
  writeFileSync(
    file,
    JSON.stringify({
      version: '0',
      id: 'sched-1',
      'detail-type': 'Scheduled Event',
      source: 'aws.events',
      account: '111122223333',
      time: '2026-12-04T11:00:00Z',
      region: 'eu-west-1',
      resources: ['arn:aws:events:eu-west-1:111122223333:rule/dbusers-drift'],
      detail: {},
    }),
  );
  return file;
};

const events = (out: string) =>
  out
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l) as { 'detail-type': string; detail: Record<string, unknown> });

beforeAll(async () => {
  server = await startTestServer();
  admin = await server.admin();
  await createExampleSchema(admin);
  repo = tempDir();
  execFileSync('git', ['init', '-q', '-b', 'main', repo]);
  useServer(server.url, tempDir());
});

afterAll(async () => {
  await admin?.close();
  await server?.stop();
});

describe('dbusers event, replaying git and schedule events', () => {
  let first: string;
  let second: string;

  it('applies a push: the account files it changed, at its commit', async () => {
    first = commit('readme', { 'README.md': '# users\n' });
    second = commit('payments-prod', {
      'users/payments-prod.yaml': readFileSync('users/payments-prod.yaml', 'utf8'),
    });
    const r = await cli('event', pushEvent(first, second), '--repo', repo);
    expect(r.err).not.toMatch(/failed/);
    expect(r.code).toBe(0);
    const applied = events(r.out).find((e) => e['detail-type'] === 'Apply Succeeded');
    expect(applied?.detail.revision).toBe(second);
    expect(await admin.query("SELECT User FROM mysql.global_priv WHERE User = 'audit_rw'")).toHaveLength(1);
  });

  it('dispatches nothing when the same push is delivered again', async () => {
    const r = await cli('event', pushEvent(first, second), '--repo', repo);
    expect(r.code).toBe(0);
    expect(events(r.out).map((e) => e['detail-type'])).toEqual(['Plan Computed']);
  });

  it('reconciles nothing for a push that changes no account file', async () => {
    const third = commit('docs', { 'README.md': '# users, documented\n' });
    const r = await cli('event', pushEvent(second, third), '--repo', repo);
    expect(r.code).toBe(0);
    expect(events(r.out)).toEqual([
      expect.objectContaining({
        'detail-type': 'Plan Computed',
        detail: expect.objectContaining({ plans: [] }),
      }),
    ]);
  });

  it('sends a heartbeat on the schedule when nothing drifted, then finds a grant made by hand', async () => {
    const quiet = await cli('event', schedule(), '--repo', repo);
    expect(events(quiet.out).map((e) => e['detail-type'])).toContain('Drift Check Passed');
    await admin.query("GRANT INSERT ON orders.invoices TO 'audit_rw'@'%'");
    const r = await cli('event', schedule(), '--repo', repo);
    expect(r.code).toBe(0);
    const drift = events(r.out).find((e) => e['detail-type'] === 'Drift Detected');
    expect(drift?.detail).toMatchObject({ cluster: 'payments-prod/orders', driftedAccounts: 1 });
    expect(JSON.stringify(drift?.detail)).toMatch(/INSERT on orders\.invoices/);
    expect(events(r.out).map((e) => e['detail-type'])).not.toContain('Drift Check Passed');
  });

  it('resets the user on a forwarded RotationFailed: a new password that logs in', async () => {
    const store = new FileSecretStore(join(process.env.DBUSERS_STATE_DIR!, 'secrets', '111122223333'));
    const before = (await store.getValue('rds-orders-audit_rw-secret', 'AWSCURRENT'))!.password;
    const file = join(tempDir(), 'rotation-failed.json');
    writeFileSync(
      file,
      JSON.stringify({
        version: '0',
        id: 'rf-1',
        'detail-type': 'AWS Service Event via CloudTrail',
        source: 'aws.secretsmanager',
        account: '111122223333',
        time: '2026-12-04T12:00:00Z',
        region: 'eu-west-1',
        resources: [],
        detail: {
          eventSource: 'secretsmanager.amazonaws.com',
          eventName: 'RotationFailed',
          errorMessage: 'Error when executing lambda during setSecret step',
          additionalEventData: {
            SecretId:
              'arn:aws:secretsmanager:eu-west-1:111122223333:secret:rds-orders-audit_rw-secret-AbC123',
          },
          recipientAccountId: '111122223333',
        },
      }),
    );
    const r = await cli('event', file, '--repo', repo);
    expect(r.err).not.toMatch(/failed/);
    expect(r.code).toBe(0);
    const applied = events(r.out).find((e) => e['detail-type'] === 'Apply Succeeded');
    expect(JSON.stringify(applied?.detail)).toMatch(/reset requested/);
    const after = (await store.getValue('rds-orders-audit_rw-secret', 'AWSCURRENT'))!.password;
    expect(after).not.toBe(before);
    await (await connect({ ...server.spec, user: 'audit_rw', password: after })).close();
  });

  it('plans a pull request on its merge result: what main added since the branch is kept, nothing is applied', async () => {
    // The branch adds a user to shop-staging; main meanwhile adds one to payments-prod (and applies it).
    const base = git('rev-parse', 'HEAD');
    git('checkout', '-q', '-b', 'feature');
    const staging = readFileSync('users/shop-staging.yaml', 'utf8');
    const branchTip = commit('staging', { 'users/shop-staging.yaml': staging });
    git('checkout', '-q', 'main');
    const yaml = readFileSync(join(repo, 'users/payments-prod.yaml'), 'utf8').replace(
      'users:\n',
      'users:\n  - { name: main_only, cluster: orders, grants: [{ database: orders, profile: readonly }] }\n',
    );
    const mainTip = commit('main user', { 'users/payments-prod.yaml': yaml });
    expect((await cli('event', pushEvent(base, mainTip), '--repo', repo)).code).toBe(0);
    const file = join(tempDir(), 'pr.json');
    writeFileSync(
      file,
      JSON.stringify({
        version: '0',
        id: 'pr-event-1',
        'detail-type': 'CodeCommit Pull Request State Change',
        source: 'aws.codecommit',
        account: '111122223333',
        time: '2026-12-04T13:00:00Z',
        region: 'eu-west-1',
        resources: ['arn:aws:codecommit:eu-west-1:111122223333:users'],
        detail: {
          event: 'pullRequestSourceBranchUpdated',
          pullRequestId: '7',
          pullRequestStatus: 'Open',
          repositoryNames: ['users'],
          isMerged: 'False',
          destinationReference: 'refs/heads/main',
          destinationCommit: mainTip,
          sourceReference: 'refs/heads/feature',
          sourceCommit: branchTip,
          revisionId: 'r1',
        },
      }),
    );
    for (const sql of [
      'CREATE DATABASE catalog',
      'CREATE DATABASE pricing',
      'CREATE TABLE catalog.products (id INT)',
      'CREATE TABLE pricing.prices (sku INT, amount INT)',
      'CREATE PROCEDURE pricing.recompute() BEGIN END',
    ]) {
      await admin.query(sql);
    }
    const r = await cli('event', file, '--repo', repo);
    expect(r.code, r.err).toBe(0);
    expect(r.out).toContain('<!-- dbusers:plan v1 -->');
    expect(r.out).toMatch(
      /Digests: `payments-prod\/orders` [0-9a-f]{12} · `shop-staging\/catalog` [0-9a-f]{12}/,
    );
    expect(r.out).toContain("+ create user 'catalog_api'@'%'");
    expect(r.out).not.toMatch(/delete user 'main_only'/);
    expect(r.out.length).toBeLessThanOrEqual(10_240 + 1);
    expect(await admin.query("SELECT User FROM mysql.global_priv WHERE User = 'catalog_api'")).toEqual([]);
  });
});
