/**
 * What the CDK app derives from users/ and the deployment file, before any construct: one database
 * stack per account and Region, the secret names the executor may manage, the IAM principals, and
 * every problem of the deployment file at once, as a message (never a stack trace) from the app.
 */
import { execFile } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { type DeploymentFile, DeploymentError, readDeployment } from '../../../infra/src/deployment.js';
import { tempDir } from '../../support/server.js';

const example = JSON.parse(readFileSync('infra/deployment.example.json', 'utf8')) as DeploymentFile;

/** The deployment file `edit` makes of the example, written to a temp folder. */
function deploymentFile(edit: (f: DeploymentFile) => unknown): string {
  const path = join(tempDir('dbusers-deployment-'), 'deployment.json');
  writeFileSync(path, JSON.stringify(edit(structuredClone(example))));
  return path;
}

async function problemsOf(path: string): Promise<string[]> {
  const error = await readDeployment('users', path).catch((e: unknown) => e);
  expect(error).toBeInstanceOf(DeploymentError);
  return (error as DeploymentError).problems;
}

describe('readDeployment', () => {
  it('groups the clusters of users/ by account and Region', async () => {
    const plan = await readDeployment('users', 'infra/deployment.example.json');
    expect(plan.central).toMatchObject({ account: '999988887777', region: 'eu-west-1', branch: 'main' });
    expect(
      plan.databaseAccounts.map((d) => ({
        key: `${d.account}/${d.region}`,
        alias: d.alias,
        clusters: d.clusters.map((c) => c.name),
        secretPrefixes: d.secretPrefixes,
        iam: d.iamConnections.map((c) => `${c.principal} -> ${c.user}@${c.cluster.name}`),
      })),
    ).toEqual([
      {
        key: '111122223333/eu-west-1',
        alias: 'payments-prod',
        clusters: ['orders'],
        secretPrefixes: ['rds-orders-*'],
        iam: [],
      },
      {
        key: '444455556666/us-east-1',
        alias: 'shop-staging',
        clusters: ['catalog'],
        secretPrefixes: ['shop/catalog/*'],
        iam: ['arn:aws:iam::444455556666:role/search-indexer -> search_indexer@catalog'],
      },
    ]);
  });

  it('reports every problem of the deployment file at once', async () => {
    const path = deploymentFile((f) => {
      const { '444455556666/us-east-1': shop, ...rest } = f.databaseAccounts;
      return {
        ...f,
        central: { ...f.central, account: '9999' },
        databaseAccounts: {
          ...rest,
          '111122223333/eu-west-1': { ...rest['111122223333/eu-west-1']!, databaseSecurityGroups: {} },
          '777777777777/eu-west-1': shop,
        },
      };
    });
    expect(await problemsOf(path)).toEqual([
      'central.account must be a 12-digit AWS account id',
      'databaseAccounts.777777777777/eu-west-1: users/ has no cluster in that account and Region',
      'databaseAccounts["111122223333/eu-west-1"].databaseSecurityGroups.orders: the security group (sg-…) of orders.cluster-abc.eu-west-1.rds.amazonaws.com',
      'databaseAccounts["444455556666/us-east-1"] is missing: give the VPC, subnets and database security groups of catalog',
    ]);
  });

  it('asks for the resource id an IAM admin connection needs', async () => {
    const path = deploymentFile((f) => ({
      ...f,
      databaseAccounts: {
        ...f.databaseAccounts,
        '111122223333/eu-west-1': {
          ...f.databaseAccounts['111122223333/eu-west-1']!,
          adminIamUser: 'dbusers_admin',
        },
      },
    }));
    expect(await problemsOf(path)).toEqual([
      'cluster orders (payments-prod): adminIamUser needs its resourceId in users/',
    ]);
  });

  it('says which file is unreadable', async () => {
    expect(await problemsOf('infra/no-such-deployment.json')).toEqual([
      expect.stringMatching(/^infra\/no-such-deployment\.json: ENOENT/),
    ]);
  });
});

describe('the app entry (infra/app.ts)', () => {
  const run = (context: Record<string, string>) =>
    promisify(execFile)(process.execPath, ['--import', 'tsx', 'infra/app.ts'], {
      env: {
        ...process.env,
        CDK_CONTEXT_JSON: JSON.stringify(context),
        CDK_OUTDIR: tempDir('dbusers-cdk-out-'),
      },
    }).then(
      () => ({ code: 0, stderr: '' }),
      (e: { code: number; stderr: string }) => ({ code: e.code, stderr: e.stderr }),
    );

  it('exits 1 with the problems, no stack trace, when the deployment is incomplete', async () => {
    const path = deploymentFile((f) => ({ ...f, databaseAccounts: {} }));
    const { code, stderr } = await run({ config: path, bundleDir: tempDir('dbusers-empty-') });
    expect(code).toBe(1);
    expect(stderr).toBe(
      [
        'dbusers infra: the deployment cannot be synthesised:',
        '  - databaseAccounts["111122223333/eu-west-1"] is missing: give the VPC, subnets and database security groups of orders',
        '  - databaseAccounts["444455556666/us-east-1"] is missing: give the VPC, subnets and database security groups of catalog',
        '',
      ].join('\n'),
    );
  });

  it('exits 1 and asks for npm run bundle when the bundles are missing', async () => {
    const bundleDir = tempDir('dbusers-empty-');
    const { code, stderr } = await run({ config: 'infra/deployment.example.json', bundleDir });
    expect(code).toBe(1);
    expect(stderr).toContain(
      `${join(bundleDir, 'executor', 'index.mjs')} is missing: run npm run bundle first`,
    );
  });

  it('exits 1 when no deployment file is given', async () => {
    const { code, stderr } = await run({});
    expect(code).toBe(1);
    expect(stderr).toContain('no deployment file: pass -c config=FILE');
  });
});
