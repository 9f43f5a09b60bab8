/**
 * The GitHub workflow as shipped (infra/github/dbusers.yml): its triggers and roles, and its
 * event-building step run as written, by bash, in a real git checkout; the event it writes is
 * replayed with `dbusers event` on a real MariaDB (a push applies; a pull request prints the
 * comment the workflow would post, applying nothing). GitHub and AWS themselves are not reached.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connect } from '../../reconciler/src/adapters/mysql/database.js';
import { parseGitHub } from '../../reconciler/src/handlers/github.js';
import { cli, useServer } from '../support/cli.js';
import { createExampleSchema, startTestServer, tempDir, type TestServer } from '../support/server.js';

interface Step {
  name?: string;
  uses?: string;
  run?: string;
  with?: Record<string, string>;
  env?: Record<string, string>;
}
const workflow = parse(readFileSync('infra/github/dbusers.yml', 'utf8')) as {
  on: Record<string, unknown>;
  permissions: Record<string, string>;
  jobs: { dbusers: { steps: Step[] } };
};
const steps = workflow.jobs.dbusers.steps;
const step = (name: string) => steps.find((s) => s.name === name)!;

let server: TestServer;
/** The comment the pull request's replay printed, as the workflow would have posted it. */
let shown = '';
let repo: string;
const git = (...args: string[]) => execFileSync('git', ['-C', repo, ...args], { encoding: 'utf8' }).trim();
function commit(files: Record<string, string>): string {
  for (const [path, text] of Object.entries(files)) {
    mkdirSync(join(repo, path, '..'), { recursive: true });
    writeFileSync(join(repo, path), text);
  }
  git('add', '-A');
  git('-c', 'user.name=t', '-c', 'user.email=t@example.com', 'commit', '-q', '-m', 'change');
  return git('rev-parse', 'HEAD');
}

/** The step "Build the event from the checkout", run by bash as GitHub runs it, with the given context. */
function buildEvent(env: Record<string, string>): string {
  execFileSync('bash', ['-e', '-c', step('Build the event from the checkout').run!], {
    cwd: repo,
    env: { ...process.env, ...env },
  });
  const file = join(tempDir(), 'event.json');
  writeFileSync(file, readFileSync(join(repo, 'dbusers-event.json')));
  return file;
}

beforeAll(async () => {
  server = await startTestServer();
  const admin = await server.admin();
  await createExampleSchema(admin);
  await admin.close();
  repo = tempDir();
  execFileSync('git', ['init', '-q', '-b', 'main', repo]);
  useServer(server.url, tempDir());
});
afterAll(async () => {
  await server?.stop();
});

describe('the GitHub workflow', () => {
  it('plans pull requests with the plan role and the planner, and applies main with the apply role', () => {
    expect(Object.keys(workflow.on)).toEqual(['pull_request', 'push', 'schedule']);
    expect(workflow.on.push).toEqual({ branches: ['main'], paths: ['users/**'] });
    expect(workflow.permissions).toEqual({ 'id-token': 'write', contents: 'read', 'pull-requests': 'write' });
    const credentials = steps.find((s) => s.uses?.startsWith('aws-actions/configure-aws-credentials'))!;
    expect(credentials.with!['role-to-assume']).toBe(
      // biome-ignore lint/suspicious/noTemplateCurlyInString: a GitHub Actions expression, as the workflow holds it
      "${{ github.event_name == 'pull_request' && vars.DBUSERS_PLAN_ROLE_ARN || vars.DBUSERS_APPLY_ROLE_ARN }}",
    );
    expect(step('Run it').env!.FUNCTION).toBe(
      // biome-ignore lint/suspicious/noTemplateCurlyInString: a GitHub Actions expression, as the workflow holds it
      "${{ github.event_name == 'pull_request' && 'dbusers-planner' || 'dbusers-reconciler' }}",
    );
    expect(step('Comment the plan').run).toContain('<!-- dbusers:plan v1 -->');
    expect(step('Find the reviewed plan').run).toContain('commits/$COMMIT/pulls');
  });

  it('hands a push the tree and the account files changed since the previous head; replayed, it applies', async () => {
    const before = commit({ 'README.md': '# users\n' });
    const after = commit({ 'users/payments-prod.yaml': readFileSync('users/payments-prod.yaml', 'utf8') });
    const file = buildEvent({
      ACTION: 'push',
      REPOSITORY: 'example/db-users',
      COMMIT: after,
      BEFORE: before,
      RUN_ID: '77',
    });
    const request = parseGitHub(JSON.parse(readFileSync(file, 'utf8')))!;
    expect(request).toMatchObject({
      action: 'push',
      commit: after,
      before,
      changed: ['users/payments-prod.yaml'],
    });
    expect([...request.files.keys()]).toEqual(['users/payments-prod.yaml']);
    const r = await cli('event', file);
    expect(r.err).not.toMatch(/failed/);
    expect(r.code).toBe(0);
    const db = await connect(server.spec);
    expect(await db.query("SELECT User FROM mysql.global_priv WHERE User = 'audit_rw'")).toHaveLength(1);
    await db.close();
  });

  it('hands a pull request its merge commit; replayed, it prints the comment and applies nothing', async () => {
    const base = git('rev-parse', 'HEAD');
    const yaml = readFileSync('users/payments-prod.yaml', 'utf8').replace(
      '  - name: app_iam',
      '  - name: reporter\n    cluster: orders\n    grants: [{ database: audit, profile: readonly }]\n  - name: app_iam',
    );
    const head = commit({ 'users/payments-prod.yaml': yaml });
    const file = buildEvent({
      ACTION: 'pull_request',
      REPOSITORY: 'example/db-users',
      COMMIT: head,
      PR_NUMBER: '5',
      PR_BASE: base,
      PR_HEAD: head,
      RUN_ID: '78',
    });
    const r = await cli('event', file);
    expect(r.code).toBe(0);
    shown = r.out;
    expect(r.out).toContain(
      `### dbusers plan of the merge result (#5: ${head.slice(0, 8)} into ${base.slice(0, 8)})`,
    );
    expect(r.out).toContain("+ create user 'reporter'@'%'");
    const db = await connect(server.spec);
    expect(await db.query("SELECT User FROM mysql.global_priv WHERE User = 'reporter'")).toHaveLength(0);
    await db.close();
  });

  it('binds a push to the plan its pull request showed: applied when it is that plan, refused under refuse when none was shown', async () => {
    const base = git('rev-parse', 'HEAD~1');
    const head = git('rev-parse', 'HEAD');
    // What the step "Find the reviewed plan" leaves: the merged pull request's comment.
    writeFileSync(join(repo, 'dbusers-review.json'), JSON.stringify({ pullRequest: 5, comment: shown }));
    const push = (before: string, after: string, runId: string) =>
      buildEvent({
        ACTION: 'push',
        REPOSITORY: 'example/db-users',
        COMMIT: after,
        BEFORE: before,
        RUN_ID: runId,
      });
    const merged = await cli('event', push(base, head, '80'));
    expect(merged.code).toBe(0);
    const events = merged.out
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l));
    expect(events.find((e) => e['detail-type'] === 'Apply Succeeded').detail.mismatches).toEqual([]);

    rmSync(join(repo, 'dbusers-review.json'));
    const yaml = readFileSync(join(repo, 'users/payments-prod.yaml'), 'utf8')
      .replace(
        '  - name: app_iam',
        '  - name: late\n    cluster: orders\n    grants: [{ database: audit, profile: readonly }]\n  - name: app_iam',
      )
      .concat('onDigestMismatch: refuse\n');
    const direct = commit({ 'users/payments-prod.yaml': yaml });
    const refused = await cli('event', push(head, direct, '81'));
    expect(refused.code).toBe(1);
    expect(refused.err).toMatch(
      /payments-prod\/orders: review failed: plan [0-9a-f]{12} was never shown for review; onDigestMismatch: refuse/,
    );
    const db = await connect(server.spec);
    const made = await db.query<{ User: string }>(
      "SELECT User FROM mysql.global_priv WHERE User IN ('reporter', 'late')",
    );
    expect(made).toEqual([{ User: 'reporter' }]);
    await db.close();
  });

  it('sends every account file when the previous head is unknown (a new branch)', () => {
    const file = buildEvent({
      ACTION: 'push',
      REPOSITORY: 'example/db-users',
      COMMIT: git('rev-parse', 'HEAD'),
      BEFORE: '0000000000000000000000000000000000000000',
      RUN_ID: '79',
    });
    const event = JSON.parse(readFileSync(file, 'utf8'));
    expect(event.changed).toBeUndefined();
    expect(parseGitHub(event)!.changed).toBeUndefined();
  });
});
