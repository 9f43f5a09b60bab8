/**
 * The parts identical in every database account (the execution role and the rotation-failure
 * forwarding), as one environment-agnostic template for a service-managed StackSet: an organisation
 * deploys it to every account (one Region per account: the role is global) and new accounts get it
 * automatically. No assets and no bootstrap: the template is plain CloudFormation.
 */
import { BootstraplessSynthesizer, Stack, type StackProps } from 'aws-cdk-lib';
import type { Construct } from 'constructs';
import { ExecutionAccess } from './execution-access.js';

/** Props of {@link DatabaseBaselineStack}. */
export interface DatabaseBaselineStackProps extends StackProps {
  /** The central (tooling) account and Region. */
  readonly central: { readonly account: string; readonly region: string };
  /** @default "dbusers-executor" */
  readonly executorFunctionName?: string;
  /** @default "AssumableRoleInDatabaseAccount" */
  readonly executionRoleName?: string;
  /** Trust the central planner too (GitHub deployments). @default false */
  readonly trustPlanner?: boolean;
}

/** The StackSet template: {@link ExecutionAccess} for whichever account it lands in. */
export class DatabaseBaselineStack extends Stack {
  constructor(scope: Construct, id: string, props: DatabaseBaselineStackProps) {
    super(scope, id, { ...props, synthesizer: new BootstraplessSynthesizer() });
    new ExecutionAccess(this, 'ExecutionAccess', { ...props, executorRegion: '*' });
  }
}
