/**
 * How the central account reaches a database account: the execution role its automation and its
 * reconciler assume there, and the rule that forwards rotation failures to its bus. The same in
 * every database account, so it is also deployable alone, as a StackSet (DatabaseBaselineStack).
 */
import { Stack } from 'aws-cdk-lib';
import * as events from 'aws-cdk-lib/aws-events';
import * as targets from 'aws-cdk-lib/aws-events-targets';
import * as iam from 'aws-cdk-lib/aws-iam';
import { Construct } from 'constructs';
import { acknowledge, CENTRAL_BUS_NAME, CENTRAL_ROLE_NAMES, DOCUMENT_NAME } from './shared.js';

/** Props of {@link ExecutionAccess}. */
export interface ExecutionAccessProps {
  /** The central (tooling) account and Region. */
  readonly central: { readonly account: string; readonly region: string };
  /** @default "dbusers-executor" */
  readonly executorFunctionName?: string;
  /** @default "AssumableRoleInDatabaseAccount" */
  readonly executionRoleName?: string;
  /**
   * The executor's Region; `*` lets one role invoke the executor of every Region of the account
   * (the StackSet form, deployed in one Region). @default the stack's Region
   */
  readonly executorRegion?: string;
  /** Trust the central planner too (GitHub: it inspects for pull requests). @default false */
  readonly trustPlanner?: boolean;
  /** Forward RotationFailed only for secrets under these name prefixes. @default every secret of the account */
  readonly secretPrefixes?: readonly string[];
}

/** The execution role and the rotation-failure forwarding of one database account. */
export class ExecutionAccess extends Construct {
  /** The role SSM Automation and the central reconciler assume. */
  readonly role: iam.Role;

  constructor(scope: Construct, id: string, props: ExecutionAccessProps) {
    super(scope, id);
    const stack = Stack.of(this);
    const { central } = props;
    const { partition, account } = stack;
    const centralRole = (name: string) => `arn:${partition}:iam::${central.account}:role/${name}`;
    // Trusted by the central account's two roles, and by SSM for executions of this account only
    // (the confused-deputy conditions of AWS's AutomationExecutionRole template).
    this.role = new iam.Role(this, 'Role', {
      roleName: props.executionRoleName ?? 'AssumableRoleInDatabaseAccount',
      description: 'dbusers: assumed by the central reconciler and its SSM automation to invoke the executor',
      assumedBy: new iam.CompositePrincipal(
        new iam.ArnPrincipal(centralRole(CENTRAL_ROLE_NAMES.reconciler)),
        new iam.ArnPrincipal(centralRole(CENTRAL_ROLE_NAMES.automation)),
        ...(props.trustPlanner ? [new iam.ArnPrincipal(centralRole(CENTRAL_ROLE_NAMES.planner))] : []),
        new iam.PrincipalWithConditions(new iam.ServicePrincipal('ssm.amazonaws.com'), {
          StringEquals: { 'aws:SourceAccount': account },
          ArnLike: { 'aws:SourceArn': `arn:${partition}:ssm:*:${account}:automation-execution/*` },
        }),
      ),
    });
    const region = props.executorRegion ?? stack.region;
    const documentArn = (resource: string) =>
      `arn:${partition}:ssm:${central.region}:${central.account}:${resource}/${DOCUMENT_NAME}`;
    const executions = `arn:${partition}:ssm:${region}:${account}:automation-execution/*`;
    const executor = `arn:${partition}:lambda:${region}:${account}:function:${props.executorFunctionName ?? 'dbusers-executor'}`;
    const policy = new iam.Policy(this, 'Policy', {
      statements: [
        new iam.PolicyStatement({
          sid: 'InvokeExecutor',
          actions: ['lambda:InvokeFunction'],
          resources: [executor],
        }),
        new iam.PolicyStatement({
          sid: 'RunTheDocument',
          actions: ['ssm:StartAutomationExecution'],
          resources: [documentArn('document'), `${documentArn('automation-definition')}:*`],
        }),
        new iam.PolicyStatement({
          sid: 'PassItselfToSsm',
          actions: ['iam:PassRole'],
          resources: [this.role.roleArn],
          conditions: { StringEquals: { 'iam:PassedToService': 'ssm.amazonaws.com' } },
        }),
        new iam.PolicyStatement({
          sid: 'ReadExecutions',
          actions: ['ssm:GetAutomationExecution', 'ssm:DescribeAutomationStepExecutions'],
          resources: [executions],
        }),
        new iam.PolicyStatement({
          sid: 'FindChildExecutions',
          actions: ['ssm:DescribeAutomationExecutions'],
          resources: ['*'],
        }),
      ],
    });
    this.role.attachInlinePolicy(policy);
    acknowledge(policy, {
      'AwsSolutions-IAM5[Resource::*]': 'ssm:DescribeAutomationExecutions has no resource-level permission',
      [`AwsSolutions-IAM5[Resource::${documentArn('automation-definition')}:*]`]:
        'any version of the one dbusers document',
      [`AwsSolutions-IAM5[Resource::${executions}]`]:
        'execution ids are made by SSM at run time; scoped to this account',
      ...(region === '*'
        ? {
            [`AwsSolutions-IAM5[Resource::${executor}]`]:
              'the one executor function, in each Region of this account',
          }
        : {}),
    });

    const bus = events.EventBus.fromEventBusArn(
      this,
      'CentralBus',
      `arn:${partition}:events:${central.region}:${central.account}:event-bus/${CENTRAL_BUS_NAME}`,
    );
    const secretArn = (p: string) =>
      `arn:${partition}:secretsmanager:${stack.region}:${account}:secret:${p.replace(/\*$/, '')}`;
    new events.Rule(this, 'ForwardRotationFailed', {
      description: 'dbusers: rotation failures of managed secrets, to the central reconciler',
      eventPattern: {
        source: ['aws.secretsmanager'],
        detailType: ['AWS Service Event via CloudTrail'],
        detail: {
          eventName: ['RotationFailed'],
          ...(props.secretPrefixes
            ? {
                additionalEventData: {
                  SecretId: props.secretPrefixes.map((p) => ({ prefix: secretArn(p) })),
                },
              }
            : {}),
        },
      },
      targets: [new targets.EventBus(bus)],
    });
  }
}
