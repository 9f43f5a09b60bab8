/**
 * One database account and Region: the executor Lambda in the databases' VPC (the one place that
 * holds database credentials), the role the central account's automation assumes to invoke it, the
 * executor as rotation function of the secrets it manages, a rule forwarding rotation failures to
 * the central bus, and the rds-db:connect policies users/ declares for IAM users.
 */
import { join } from 'node:path';
import { Annotations, ArnFormat, Duration, Stack, type StackProps } from 'aws-cdk-lib';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as logs from 'aws-cdk-lib/aws-logs';
import type { Construct } from 'constructs';
import type { DatabaseAccountPlan } from './deployment.js';
import { ExecutionAccess } from './execution-access.js';
import { acknowledge, RUNTIME, RUNTIME_REASON } from './shared.js';

/** Props of {@link DatabaseAccountStack}. */
export interface DatabaseAccountStackProps extends StackProps {
  /** The account, Region, clusters and network, from users/ and the deployment file. */
  readonly database: DatabaseAccountPlan;
  /** The central (tooling) account and Region: who may assume the execution role, where events go. */
  readonly central: { readonly account: string; readonly region: string };
  /** The folder holding `executor/index.mjs` from `npm run bundle`. @default "dist" */
  readonly bundleDir?: string;
  /** @default "dbusers-executor" */
  readonly executorFunctionName?: string;
  /** @default "AssumableRoleInDatabaseAccount" */
  readonly executionRoleName?: string;
  /** @default 90 */
  readonly logRetentionDays?: number;
  /** Trust the central planner too (GitHub deployments). @default false */
  readonly trustPlanner?: boolean;
  /** Include the execution role and forwarding rule; false when the baseline StackSet deploys them. @default true */
  readonly withExecutionAccess?: boolean;
}

/** The executor, its roles and its wiring in one database account and Region. */
export class DatabaseAccountStack extends Stack {
  /** The executor Lambda. */
  readonly executor: lambda.Function;
  /** The role SSM Automation and the central reconciler assume here, unless a StackSet deploys it. */
  readonly executionRole?: iam.Role;

  constructor(scope: Construct, id: string, props: DatabaseAccountStackProps) {
    super(scope, id, props);
    const { database, central } = props;
    const functionName = props.executorFunctionName ?? 'dbusers-executor';
    const network = database.network;
    const vpc = ec2.Vpc.fromVpcAttributes(this, 'Vpc', {
      vpcId: network.vpcId,
      availabilityZones: [...network.availabilityZones],
    });
    const subnets = {
      subnets: network.subnetIds.map((subnetId, i) => {
        const subnet = ec2.Subnet.fromSubnetAttributes(this, `Subnet${i}`, {
          subnetId,
          availabilityZone: network.availabilityZones[i % network.availabilityZones.length],
        });
        Annotations.of(subnet).acknowledgeWarning(
          '@aws-cdk/aws-ec2:noSubnetRouteTableId',
          'the stack only places network interfaces in these subnets; it never reads or changes their routes',
        );
        return subnet;
      }),
    };
    const securityGroup = new ec2.SecurityGroup(this, 'ExecutorSecurityGroup', {
      vpc,
      description: 'dbusers executor: out to the databases and Secrets Manager only',
      allowAllOutbound: false,
    });
    const ports = new Set<number>();
    for (const cluster of database.clusters) {
      const dbGroup = ec2.SecurityGroup.fromSecurityGroupId(
        this,
        `DatabaseSecurityGroup-${cluster.name}`,
        network.databaseSecurityGroups[cluster.name]!,
      );
      // SG to SG on the database port, never a CIDR.
      dbGroup.addIngressRule(
        securityGroup,
        ec2.Port.tcp(cluster.port),
        `dbusers executor to ${cluster.name}`,
      );
      if (!ports.has(cluster.port))
        securityGroup.addEgressRule(
          ec2.Peer.securityGroupId(dbGroup.securityGroupId),
          ec2.Port.tcp(cluster.port),
          `to ${cluster.name}`,
        );
      ports.add(cluster.port);
    }
    // Secrets Manager over HTTPS: to the endpoint's security group when the stack makes one, else
    // through the subnets' NAT (AWS's public endpoints have no fixed range to name).
    if (network.secretsManagerEndpoint) {
      const endpoint = new ec2.InterfaceVpcEndpoint(this, 'SecretsManagerEndpoint', {
        vpc,
        service: ec2.InterfaceVpcEndpointAwsService.SECRETS_MANAGER,
        subnets,
        privateDnsEnabled: true,
        open: false,
        securityGroups: [
          new ec2.SecurityGroup(this, 'EndpointSecurityGroup', {
            vpc,
            description: 'dbusers: the Secrets Manager endpoint, reached by the executor only',
            allowAllOutbound: false,
          }),
        ],
      });
      endpoint.connections.allowFrom(securityGroup, ec2.Port.tcp(443), 'dbusers executor');
    } else securityGroup.addEgressRule(ec2.Peer.anyIpv4(), ec2.Port.tcp(443), 'HTTPS to Secrets Manager');

    // Known before the function exists, so its own environment and policy can name it (no cycle).
    const functionArn = this.formatArn({
      service: 'lambda',
      resource: 'function',
      resourceName: functionName,
      arnFormat: ArnFormat.COLON_RESOURCE_NAME,
    });
    const logGroup = new logs.LogGroup(this, 'ExecutorLogs', {
      logGroupName: `/aws/lambda/${functionName}`,
      retention: props.logRetentionDays ?? 90,
    });
    const role = new iam.Role(this, 'ExecutorRole', {
      assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com'),
      description: 'dbusers executor: the master secrets it reads, the user secrets it manages',
    });
    this.executor = new lambda.Function(this, 'Executor', {
      functionName,
      description: 'dbusers executor: runs user-management batches and rotates the secrets it manages',
      runtime: RUNTIME,
      // The bytes `npm run bundle` wrote and the tests loaded: no second bundler configuration.
      code: lambda.Code.fromAsset(join(props.bundleDir ?? 'dist', 'executor')),
      handler: 'index.handler',
      architecture: lambda.Architecture.ARM_64,
      memorySize: 512,
      // Below SSM's 300 s aws:invokeLambdaFunction limit, so SSM never gives up while a batch commits.
      timeout: Duration.seconds(280),
      role,
      logGroup,
      vpc,
      vpcSubnets: subnets,
      securityGroups: [securityGroup],
      environment: {
        // The clusters it serves come from here, never from an event.
        DBUSERS_CLUSTERS: JSON.stringify(database.clusters),
        ROTATION_LAMBDA_ARN: functionArn,
        ...(network.adminIamUser ? { DBUSERS_ADMIN_IAM_USER: network.adminIamUser } : {}),
      },
    });
    acknowledge(this.executor, { 'AwsSolutions-L1': RUNTIME_REASON });
    logGroup.grantWrite(role);
    this.grantExecutor(role, props, functionArn);

    // Secrets Manager calls the executor as the rotation function of the secrets it manages.
    this.executor.addPermission('RotationByThisAccount', {
      principal: new iam.ServicePrincipal('secretsmanager.amazonaws.com'),
      action: 'lambda:InvokeFunction',
      sourceAccount: this.account,
    });

    if (props.withExecutionAccess ?? true)
      this.executionRole = new ExecutionAccess(this, 'ExecutionAccess', {
        central,
        executorFunctionName: functionName,
        executionRoleName: props.executionRoleName,
        secretPrefixes: database.secretPrefixes,
        trustPlanner: props.trustPlanner,
      }).role;
    this.iamConnectPolicies(database);
  }

  /** Exactly what the executor does, by ARN where AWS allows one. */
  private grantExecutor(role: iam.Role, props: DatabaseAccountStackProps, functionArn: string): void {
    const { database } = props;
    const secretArn = (name: string) =>
      this.formatArn({
        service: 'secretsmanager',
        resource: 'secret',
        resourceName: name,
        arnFormat: ArnFormat.COLON_RESOURCE_NAME,
      });
    // A secret's ARN ends in "-" and six random characters.
    const managed = database.secretPrefixes.map((p) => secretArn(p.endsWith('*') ? p : `${p}-??????`));
    const masters = database.clusters.flatMap((c) => [c.masterSecretArn, `${c.masterSecretArn}-??????`]);
    const registry = secretArn('dbusers/registry-key-??????');
    const statements = [
      new iam.PolicyStatement({
        sid: 'ReadMasterSecrets',
        actions: [
          'secretsmanager:GetSecretValue',
          'secretsmanager:DescribeSecret',
          'secretsmanager:GetResourcePolicy',
        ],
        resources: [...new Set(masters)],
      }),
      new iam.PolicyStatement({
        sid: 'CreateManagedSecrets',
        actions: ['secretsmanager:CreateSecret', 'secretsmanager:TagResource'],
        resources: [...managed, registry],
        conditions: { StringEquals: { 'aws:RequestTag/managed-by': 'dbusers' } },
      }),
      new iam.PolicyStatement({
        sid: 'ReadManagedSecrets',
        actions: ['secretsmanager:DescribeSecret', 'secretsmanager:GetSecretValue'],
        resources: [...managed, registry],
      }),
      new iam.PolicyStatement({
        sid: 'ChangeManagedSecrets',
        actions: [
          'secretsmanager:PutSecretValue',
          'secretsmanager:UpdateSecretVersionStage',
          'secretsmanager:RotateSecret',
          'secretsmanager:PutResourcePolicy',
          'secretsmanager:RestoreSecret',
          'secretsmanager:DeleteSecret',
        ],
        resources: managed,
        // Only secrets the executor made: a secret that happens to match the prefix is not its own.
        conditions: { StringEquals: { 'aws:ResourceTag/managed-by': 'dbusers' } },
      }),
      new iam.PolicyStatement({
        sid: 'AccountWideSecretCalls',
        actions: [
          'secretsmanager:GetRandomPassword',
          'secretsmanager:ListSecrets',
          'secretsmanager:BatchGetSecretValue',
        ],
        resources: ['*'],
      }),
      new iam.PolicyStatement({
        sid: 'InvokeItselfForRotation',
        actions: ['lambda:InvokeFunction'],
        resources: [functionArn],
      }),
      new iam.PolicyStatement({
        sid: 'VpcNetworkInterfaces',
        actions: [
          'ec2:CreateNetworkInterface',
          'ec2:DescribeNetworkInterfaces',
          'ec2:DeleteNetworkInterface',
          'ec2:AssignPrivateIpAddresses',
          'ec2:UnassignPrivateIpAddresses',
        ],
        resources: ['*'],
      }),
    ];
    if (database.network.adminIamUser)
      statements.push(
        new iam.PolicyStatement({
          sid: 'ConnectAsAdmin',
          actions: ['rds-db:connect'],
          resources: database.clusters.map((c) =>
            this.dbUserArn(c.resourceId!, database.network.adminIamUser!),
          ),
        }),
      );
    const policy = new iam.Policy(this, 'ExecutorPolicy', { statements });
    role.attachInlinePolicy(policy);
    acknowledge(policy, {
      'AwsSolutions-IAM5[Resource::*]':
        'GetRandomPassword, ListSecrets and BatchGetSecretValue take no resource ARN (BatchGetSecretValue still needs GetSecretValue per secret, granted by ARN above); Lambda in a VPC needs the ENI actions on *',
      ...Object.fromEntries(
        [...managed, registry, ...masters]
          .filter((r) => r.includes('*') || r.includes('?'))
          .map((r) => [
            `AwsSolutions-IAM5[Resource::${r}]`,
            'a secret ARN ends in six random characters; the name or prefix before them is fixed',
          ]),
      ),
    });
  }

  /**
   * rds-db:connect for each IAM principal users/ names, attached to it here. A principal of another
   * account gets its policy in its own account (an identity policy cannot cross accounts): a warning
   * says so instead of attaching to a same-named role of this account.
   */
  private iamConnectPolicies(database: DatabaseAccountPlan): void {
    database.iamConnections.forEach(({ principal, cluster, user }, i) => {
      const [, , , , owner, resource = ''] = principal.split(':');
      if (owner !== database.account) {
        Annotations.of(this).addWarningV2(
          'dbusers:iamPrincipalInAnotherAccount',
          `${principal} may connect as ${user} on ${cluster.name}: grant it rds-db:connect on ${this.dbUserArn(cluster.resourceId!, user)} in account ${owner}`,
        );
        return;
      }
      const policy = new iam.Policy(this, `IamConnect${i}`, {
        statements: [
          new iam.PolicyStatement({
            actions: ['rds-db:connect'],
            resources: [this.dbUserArn(cluster.resourceId!, user)],
          }),
        ],
      });
      const name = resource.split('/').pop()!;
      if (resource.startsWith('role/'))
        policy.attachToRole(iam.Role.fromRoleName(this, `Principal${i}`, name));
      else policy.attachToUser(iam.User.fromUserName(this, `Principal${i}`, name));
    });
  }

  private dbUserArn(resourceId: string, user: string): string {
    return this.formatArn({
      service: 'rds-db',
      resource: 'dbuser',
      resourceName: `${resourceId}/${user}`,
      arnFormat: ArnFormat.COLON_RESOURCE_NAME,
    });
  }
}
