/** The stacks of a deployment, checked by cdk-nag's AWS Solutions pack. */
import { type App, Validations } from 'aws-cdk-lib';
import { AwsSolutionsChecks } from 'cdk-nag';
import { DatabaseBaselineStack } from './baseline-stack.js';
import { CentralStack } from './central-stack.js';
import { DatabaseAccountStack } from './database-stack.js';
import type { DeploymentPlan } from './deployment.js';

/** The stacks an app holds for a deployment. */
export interface DeploymentStacks {
  central: CentralStack;
  databases: DatabaseAccountStack[];
  /** The StackSet template, when the deployment asks for one. */
  baseline?: DatabaseBaselineStack;
}

/** Add the central stack and one database stack per account and Region to `app`. */
export function buildApp(app: App, plan: DeploymentPlan, bundleDir = 'dist'): DeploymentStacks {
  const { central } = plan;
  const github = 'github' in central.repository;
  const shared = {
    bundleDir,
    executorFunctionName: plan.executorFunctionName,
    executionRoleName: plan.executionRoleName,
    logRetentionDays: central.logRetentionDays,
  };
  const stacks: DeploymentStacks = {
    central: new CentralStack(app, 'dbusers-central', {
      ...shared,
      env: { account: central.account, region: central.region },
      description: 'dbusers: the reconciler, its event rules and the automation document (central account)',
      repository: central.repository,
      branch: central.branch,
      databaseAccounts: [...new Set(plan.databaseAccounts.map((d) => d.account))],
      organizationId: central.organizationId,
      driftSchedule: central.driftSchedule,
    }),
    databases: plan.databaseAccounts.map(
      (database) =>
        new DatabaseAccountStack(app, `dbusers-${database.alias}-${database.region}`, {
          ...shared,
          env: { account: database.account, region: database.region },
          description: `dbusers: the executor for ${database.clusters.map((c) => c.name).join(', ')} (${database.alias})`,
          database,
          central,
          withExecutionAccess: !plan.baselineStackSet,
          trustPlanner: github,
        }),
    ),
    baseline: plan.baselineStackSet
      ? new DatabaseBaselineStack(app, 'dbusers-database-baseline', {
          description:
            'dbusers: the execution role and rotation-failure forwarding of a database account (StackSet)',
          central,
          executorFunctionName: plan.executorFunctionName,
          executionRoleName: plan.executionRoleName,
          trustPlanner: github,
        })
      : undefined,
  };
  Validations.of(app).addPlugins(new AwsSolutionsChecks(app));
  return stacks;
}
