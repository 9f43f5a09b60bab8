/**
 * One database account and Region: the executor Lambda in the databases' VPC (the one place that
 * holds database credentials), the role the central account's automation assumes to invoke it, the
 * executor as rotation function of the secrets it manages, a rule forwarding rotation failures to
 * the central bus, and the rds-db:connect policies users/ declares for IAM users.
 */
import { join } from 'node:path';
import { Annotations, ArnFormat, Duration, Stack, type StackProps } from 'aws-cdk-lib';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as events from 'aws-cdk-lib/aws-events';
import * as targets from 'aws-cdk-lib/aws-events-targets';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as logs from 'aws-cdk-lib/aws-logs';
import type { Construct } from 'constructs';
import type { DatabaseAccountPlan } from './deployment.js';
import {
  acknowledge,
  CENTRAL_BUS_NAME,
  CENTRAL_ROLE_NAMES,
  DOCUMENT_NAME,
  RUNTIME,
  RUNTIME_REASON,
} from './shared.js';

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
}

/** The executor, its roles and its wiring in one database account and Region. */
export class DatabaseAccountStack extends Stack {
  /** The executor Lambda. */
  readonly executor: lambda.Function;
  /** The role SSM Automation and the central reconciler assume here. */
  readonly executionRole: iam.Role;

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
        ROTATION_LAMBDA_ARN: this.formatArn({
          service: 'lambda',
          resource: 'function',
          resourceName: functionName,
          arnFormat: ArnFormat.COLON_RESOURCE_NAME,
        }),
        ...(network.adminIamUser ? { DBUSERS_ADMIN_IAM_USER: network.adminIamUser } : {}),
      },
    });
    acknowledge(this.executor, { 'AwsSolutions-L1': RUNTIME_REASON });
    this.grantExecutor(role, props, functionName);

    // Secrets Manager calls the executor as the rotation function of the secrets it manages.
    this.executor.addPermission('RotationByThisAccount', {
      principal: new iam.ServicePrincipal('secretsmanager.amazonaws.com'),
      action: 'lambda:InvokeFunction',
      sourceAccount: this.account,
    });

    this.executionRole = this.automationRole(props, functionName);
    this.forwardRotationFailures(central, database.secretPrefixes);
    this.iamConnectPolicies(database);
  }

  /** Exactly what the executor does, by ARN where AWS allows one. */
  private grantExecutor(role: iam.Role, props: DatabaseAccountStackProps, functionName: string): void {
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
        resources: [
          this.formatArn({
            service: 'lambda',
            resource: 'function',
            resourceName: functionName,
            arnFormat: ArnFormat.COLON_RESOURCE_NAME,
          }),
        ],
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
      new iam.PolicyStatement({
        sid: 'WriteOwnLogs',
        actions: ['logs:CreateLogStream', 'logs:PutLogEvents'],
        resources: [
          this.formatArn({
            service: 'logs',
            resource: 'log-group',
            resourceName: `/aws/lambda/${functionName}:*`,
            arnFormat: ArnFormat.COLON_RESOURCE_NAME,
          }),
        ],
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
        [
          ...managed,
          registry,
          ...masters,
          `arn:<AWS::Partition>:logs:${this.region}:${this.account}:log-group:/aws/lambda/${functionName}:*`,
        ]
          .filter((r) => r.includes('*') || r.includes('?'))
          .map((r) => [
            `AwsSolutions-IAM5[Resource::${nagArn(r)}]`,
            'a secret ARN ends in six random characters; the name or prefix before them is fixed (log streams are named by Lambda)',
          ]),
      ),
    });
  }

  /**
   * The role the central account's automation (and the reconciler, to invoke inspections and read
   * child executions) assumes: trusted by the central account's two roles and by SSM for executions
   * of this account only (confused-deputy conditions).
   */
  private automationRole(props: DatabaseAccountStackProps, functionName: string): iam.Role {
    const { central } = props;
    const centralRole = (name: string) => `arn:${this.partition}:iam::${central.account}:role/${name}`;
    const role = new iam.Role(this, 'ExecutionRole', {
      roleName: props.executionRoleName ?? 'AssumableRoleInDatabaseAccount',
      description: 'dbusers: assumed by the central reconciler and its SSM automation to invoke the executor',
      assumedBy: new iam.CompositePrincipal(
        new iam.ArnPrincipal(centralRole(CENTRAL_ROLE_NAMES.reconciler)),
        new iam.ArnPrincipal(centralRole(CENTRAL_ROLE_NAMES.automation)),
        new iam.PrincipalWithConditions(new iam.ServicePrincipal('ssm.amazonaws.com'), {
          StringEquals: { 'aws:SourceAccount': this.account },
          ArnLike: { 'aws:SourceArn': `arn:${this.partition}:ssm:*:${this.account}:automation-execution/*` },
        }),
      ),
    });
    const documentArn = (resource: string) =>
      `arn:${this.partition}:ssm:${central.region}:${central.account}:${resource}/${DOCUMENT_NAME}`;
    const policy = new iam.Policy(this, 'ExecutionPolicy', {
      statements: [
        new iam.PolicyStatement({
          sid: 'InvokeExecutor',
          actions: ['lambda:InvokeFunction'],
          resources: [
            this.formatArn({
              service: 'lambda',
              resource: 'function',
              resourceName: functionName,
              arnFormat: ArnFormat.COLON_RESOURCE_NAME,
            }),
          ],
        }),
        new iam.PolicyStatement({
          sid: 'RunTheDocument',
          actions: ['ssm:StartAutomationExecution'],
          resources: [documentArn('document'), `${documentArn('automation-definition')}:*`],
        }),
        new iam.PolicyStatement({
          sid: 'ReadExecutions',
          actions: ['ssm:GetAutomationExecution', 'ssm:DescribeAutomationStepExecutions'],
          resources: [`arn:${this.partition}:ssm:${this.region}:${this.account}:automation-execution/*`],
        }),
        new iam.PolicyStatement({
          sid: 'FindChildExecutions',
          actions: ['ssm:DescribeAutomationExecutions'],
          resources: ['*'],
        }),
      ],
    });
    role.attachInlinePolicy(policy);
    acknowledge(policy, {
      'AwsSolutions-IAM5[Resource::*]': 'ssm:DescribeAutomationExecutions has no resource-level permission',
      [`AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:ssm:${props.central.region}:${central.account}:automation-definition/${DOCUMENT_NAME}:*]`]:
        'any version of the one dbusers document',
      [`AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:ssm:${this.region}:${this.account}:automation-execution/*]`]:
        'execution ids are made by SSM at run time; scoped to this account and Region',
    });
    return role;
  }

  /** RotationFailed of a managed secret, forwarded to the central bus (it fires in this account only). */
  private forwardRotationFailures(
    central: DatabaseAccountStackProps['central'],
    prefixes: readonly string[],
  ) {
    const bus = events.EventBus.fromEventBusArn(
      this,
      'CentralBus',
      `arn:${this.partition}:events:${central.region}:${central.account}:event-bus/${CENTRAL_BUS_NAME}`,
    );
    const secretArn = (p: string) =>
      `arn:${this.partition}:secretsmanager:${this.region}:${this.account}:secret:${p.replace(/\*$/, '')}`;
    new events.Rule(this, 'ForwardRotationFailed', {
      description: 'dbusers: rotation failures of managed secrets, to the central reconciler',
      eventPattern: {
        source: ['aws.secretsmanager'],
        detailType: ['AWS Service Event via CloudTrail'],
        detail: {
          eventName: ['RotationFailed'],
          additionalEventData: { SecretId: prefixes.map((p) => ({ prefix: secretArn(p) })) },
        },
      },
      targets: [new targets.EventBus(bus)],
    });
  }

  /** rds-db:connect for each IAM principal users/ names, attached where it lives (this account). */
  private iamConnectPolicies(database: DatabaseAccountPlan): void {
    database.iamConnections.forEach(({ principal, cluster, user }, i) => {
      const statement = new iam.PolicyStatement({
        actions: ['rds-db:connect'],
        resources: [this.dbUserArn(cluster.resourceId!, user)],
      });
      const policy = new iam.Policy(this, `IamConnect${i}`, { statements: [statement] });
      const name = principal.split('/').pop()!;
      if (principal.includes(':role/'))
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

/** How cdk-nag spells an ARN holding the stack's pseudo parameters. */
function nagArn(arn: string): string {
  return arn
    .replace(/\$\{Token\[AWS\.Partition\.\d+\]\}/g, '<AWS::Partition>')
    .replace(/\$\{Token\[AWS\.Region\.\d+\]\}/g, '<AWS::Region>')
    .replace(/\$\{Token\[AWS\.AccountId\.\d+\]\}/g, '<AWS::AccountId>');
}
