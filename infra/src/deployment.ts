/**
 * What the CDK app deploys, derived offline: the clusters, accounts and Regions come from users/
 * (one database stack per account and Region the YAML names), and what the YAML cannot know (the
 * central account, the repository, each account's VPC, subnets and database security groups) from
 * a deployment file. Nothing here calls AWS, so `npm run synth` needs no credentials.
 */
import { readFileSync } from 'node:fs';
import { FolderSource } from '../../reconciler/src/adapters/local/folder-source.js';
import {
  DEFAULT_SECRET_TEMPLATE,
  formatDiagnostic,
  loadDesired,
  secretNameFor,
} from '../../reconciler/src/desired/load.js';
import type { ClusterSpec, DesiredTarget } from '../../reconciler/src/model/types.js';
import type { RepositorySpec } from './central-stack.js';

/** Raised when users/ or the deployment file cannot give a complete deployment; lists every problem. */
export class DeploymentError extends Error {
  override name = 'DeploymentError';
  constructor(readonly problems: string[]) {
    super(`the deployment cannot be synthesised:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
  }
}

/** The deployment file (`-c config=FILE`): what users/ does not say. */
export interface DeploymentFile {
  /** The tooling account where the reconciler runs. */
  readonly central: {
    readonly account: string;
    readonly region: string;
    /** The branch whose pushes apply. @default "main" */
    readonly branch?: string;
    /** Where users/ lives: a CodeCommit repository (created, or an existing one by name), or GitHub. */
    readonly repository: RepositorySpec;
    /** Accounts that may forward events to the central bus: the organisation, or a list. */
    readonly organizationId?: string;
    /** The drift check's schedule. @default "rate(1 hour)" */
    readonly driftSchedule?: string;
    /** Days the Lambdas' logs are kept. @default 90 */
    readonly logRetentionDays?: number;
  };
  /** Per "account/region": the network the executor runs in. */
  readonly databaseAccounts: Readonly<Record<string, DatabaseNetwork>>;
  /** @default "dbusers-executor" */
  readonly executorFunctionName?: string;
  /** The role SSM assumes in each database account. @default "AssumableRoleInDatabaseAccount" */
  readonly executionRoleName?: string;
  /**
   * Deploy the execution role and the forwarding rule as a StackSet (the template
   * dbusers-database-baseline) instead of in each database stack. @default false
   */
  readonly baselineStackSet?: boolean;
}

/** One database account and Region's network, as the platform team knows it. */
export interface DatabaseNetwork {
  readonly vpcId: string;
  readonly availabilityZones: readonly string[];
  /** Private subnets with a route to the databases (and to Secrets Manager, or the endpoint below). */
  readonly subnetIds: readonly string[];
  /** Per cluster name of users/: the database's security group (the executor gets ingress on its port). */
  readonly databaseSecurityGroups: Readonly<Record<string, string>>;
  /** Create a Secrets Manager interface endpoint for the executor. @default false */
  readonly secretsManagerEndpoint?: boolean;
  /** Connect as this IAM database user instead of the master password (rds-db:connect is granted). */
  readonly adminIamUser?: string;
}

/** One database stack: an account and Region with its clusters and what users/ asks of it. */
export interface DatabaseAccountPlan {
  readonly account: string;
  readonly region: string;
  readonly alias: string;
  readonly network: DatabaseNetwork;
  readonly clusters: readonly ClusterSpec[];
  /** Secret name prefixes (and exact names) the executor may create and manage. */
  readonly secretPrefixes: readonly string[];
  /** IAM principals per database user they may connect as (`rds-db:connect`). */
  readonly iamConnections: readonly { principal: string; cluster: ClusterSpec; user: string }[];
}

/** The whole deployment: the central stack's settings and one plan per database account and Region. */
export interface DeploymentPlan {
  readonly central: DeploymentFile['central'] & { readonly branch: string };
  readonly executorFunctionName: string;
  readonly executionRoleName: string;
  readonly baselineStackSet: boolean;
  readonly databaseAccounts: readonly DatabaseAccountPlan[];
}

const ACCOUNT = /^[0-9]{12}$/;

/** The deployment of users/ (a folder) with the deployment file at `configPath`. */
export async function readDeployment(usersDir: string, configPath: string): Promise<DeploymentPlan> {
  let file: DeploymentFile;
  try {
    file = JSON.parse(readFileSync(configPath, 'utf8')) as DeploymentFile;
  } catch (cause) {
    throw new DeploymentError([`${configPath}: ${(cause as Error).message}`]);
  }
  const files = await new FolderSource(usersDir).readTree();
  const { targets, diagnostics } = loadDesired(files);
  if (diagnostics.length > 0)
    throw new DeploymentError(diagnostics.map((d) => formatDiagnostic(d, files.get(d.file)).split('\n')[0]!));
  return planDeployment(targets, file);
}

/**
 * Group the targets by account and Region and join each group with its network; every problem (a
 * cluster without a security group, an account without a network, a malformed id) is collected.
 */
export function planDeployment(targets: readonly DesiredTarget[], file: DeploymentFile): DeploymentPlan {
  const problems: string[] = [];
  if (!file.central || !ACCOUNT.test(file.central.account ?? ''))
    problems.push('central.account must be a 12-digit AWS account id');
  const repository = file.central?.repository as Partial<{
    codecommit: { name?: string };
    github: { owner?: string; repo?: string };
  }>;
  if (!repository?.codecommit?.name && !(repository?.github?.owner && repository.github.repo))
    problems.push(
      'central.repository: { "codecommit": { "name" } } or { "github": { "owner", "repo" } }, where users/ lives',
    );
  const groups = new Map<string, DesiredTarget[]>();
  for (const t of targets) {
    const key = `${t.cluster.account}/${t.cluster.region}`;
    groups.set(key, [...(groups.get(key) ?? []), t]);
  }
  for (const key of Object.keys(file.databaseAccounts ?? {}))
    if (!groups.has(key))
      problems.push(`databaseAccounts.${key}: users/ has no cluster in that account and Region`);
  const databaseAccounts: DatabaseAccountPlan[] = [];
  for (const [key, group] of [...groups].sort(([a], [b]) => (a < b ? -1 : 1))) {
    const network = file.databaseAccounts?.[key];
    if (!network) {
      problems.push(
        `databaseAccounts["${key}"] is missing: give the VPC, subnets and database security groups of ${group.map((t) => t.cluster.name).join(', ')}`,
      );
      continue;
    }
    if (!network.subnetIds?.length || !network.availabilityZones?.length)
      problems.push(`databaseAccounts["${key}"]: subnetIds and availabilityZones must not be empty`);
    for (const t of group)
      if (!/^sg-[0-9a-f]+$/.test(network.databaseSecurityGroups?.[t.cluster.name] ?? ''))
        problems.push(
          `databaseAccounts["${key}"].databaseSecurityGroups.${t.cluster.name}: the security group (sg-…) of ${t.cluster.endpoint}`,
        );
    const [account, region] = key.split('/') as [string, string];
    const clusters = group.map((t) => t.cluster);
    // The executor's configuration travels in its environment, which Lambda caps at 4 KB in all.
    if (JSON.stringify(clusters).length > 3_500)
      problems.push(
        `${key}: the cluster configuration of ${clusters.length} clusters exceeds what a Lambda environment holds (3,500 of 4,096 bytes)`,
      );
    if (network.adminIamUser)
      for (const c of clusters.filter((c) => !c.resourceId))
        problems.push(`cluster ${c.name} (${c.alias}): adminIamUser needs its resourceId in users/`);
    databaseAccounts.push({
      account,
      region,
      alias: clusters[0]!.alias,
      network,
      clusters,
      secretPrefixes: secretPrefixes(group),
      iamConnections: group.flatMap((t) =>
        t.accounts.flatMap((a) =>
          a.iamPrincipals.map((principal) => ({ principal, cluster: t.cluster, user: a.user })),
        ),
      ),
    });
    for (const c of group.flatMap((t) =>
      t.accounts.filter((a) => a.iamPrincipals.length > 0).map(() => t.cluster),
    ))
      if (!c.resourceId)
        problems.push(
          `cluster ${c.name} (${c.alias}): its IAM users' rds-db:connect policies need resourceId in users/`,
        );
  }
  if (problems.length > 0) throw new DeploymentError([...new Set(problems)]);
  return {
    central: { ...file.central, branch: file.central.branch ?? 'main' },
    executorFunctionName: file.executorFunctionName ?? 'dbusers-executor',
    executionRoleName: file.executionRoleName ?? 'AssumableRoleInDatabaseAccount',
    baselineStackSet: file.baselineStackSet ?? false,
    databaseAccounts,
  };
}

/**
 * The names the executor may manage: the template's fixed start per cluster (the account, alias and
 * cluster are known; the user and host are not) ending in `*`, plus each user's secretName outside
 * it. Never a bare `*`, so the policy is never `secret:*`.
 */
function secretPrefixes(group: readonly DesiredTarget[]): string[] {
  const out = new Set<string>();
  // The name a user would get, cut where the first per-user value starts.
  const cut = 'DBUSERSCUT';
  for (const t of group) {
    const { account, alias, name: cluster } = t.cluster;
    const template = t.secretNameTemplate ?? DEFAULT_SECRET_TEMPLATE;
    const prefix = secretNameFor(template, {
      account,
      alias,
      cluster,
      user: cut,
      host: cut,
      database: cut,
    }).split(cut)[0]!;
    // A template starting with {user} has no fixed start: only today's names, so a new user needs a redeploy.
    if (prefix) out.add(`${prefix}*`);
    for (const a of t.accounts)
      if (a.secretName && !(prefix && a.secretName.startsWith(prefix))) out.add(a.secretName);
  }
  return [...out].sort();
}
