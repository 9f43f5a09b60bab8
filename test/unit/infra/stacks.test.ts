/**
 * The CDK app on the example users/ and infra/deployment.example.json: each resource the design asks
 * for, asserted on the synthesised templates (aws-cdk-lib/assertions), and cdk-nag's AWS Solutions
 * pack with zero unacknowledged findings. The Lambdas' code is the bundle `npm run bundle` writes.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { App, Stack, Token } from 'aws-cdk-lib';
import { Annotations, Match, Template } from 'aws-cdk-lib/assertions';
import * as iam from 'aws-cdk-lib/aws-iam';
import { parse } from 'yaml';
import { beforeAll, describe, expect, it } from 'vitest';
import { buildApp, type DeploymentStacks } from '../../../infra/src/app.js';
import { DOCUMENT_FILE } from '../../../infra/src/central-stack.js';
import { type DeploymentPlan, readDeployment } from '../../../infra/src/deployment.js';
import { tempDir } from '../../support/server.js';
// @ts-expect-error: a plain ES module script without types
import { bundle, HANDLERS } from '../../../scripts/bundle.mjs';

const bundleDir = tempDir('dbusers-infra-bundle-');
let plan: DeploymentPlan;

beforeAll(async () => {
  for (const [name, entry] of Object.entries(HANDLERS as Record<string, string>))
    await bundle(entry, join(bundleDir, name, 'index.mjs'));
  plan = await readDeployment('users', 'infra/deployment.example.json');
}, 120_000);

/** A fresh app with the example deployment, not yet synthesised; `edit` changes the plan first. */
function fresh(edit: (p: DeploymentPlan) => DeploymentPlan = (p) => p): {
  app: App;
  stacks: DeploymentStacks;
} {
  const app = new App({ outdir: tempDir('dbusers-cdk-out-') });
  return { app, stacks: buildApp(app, edit(plan), bundleDir) };
}

/** The templates of a fresh app. */
function synth(edit?: (p: DeploymentPlan) => DeploymentPlan) {
  const { stacks } = fresh(edit);
  const [payments, shop] = stacks.databases.map((s) => Template.fromStack(s));
  return { stacks, central: Template.fromStack(stacks.central), payments: payments!, shop: shop! };
}

/** cdk-nag's findings in an assembly: the plugin reports CDK writes to validation-report.json. */
function nagFindings(assembly: string): unknown[] {
  return JSON.parse(readFileSync(join(assembly, 'validation-report.json'), 'utf8')).pluginReports;
}

/** Every Resource of every IAM policy statement in a template. */
function statements(template: Template): { Sid?: string; Resource: unknown; Action: unknown }[] {
  const policies = template.findResources('AWS::IAM::Policy');
  return Object.values(policies).flatMap((p) => p.Properties.PolicyDocument.Statement);
}

describe('the deployment of the example users/', () => {
  it('has the central stack and one database stack per account and Region', () => {
    const { stacks } = synth();
    expect(stacks.central.stackName).toBe('dbusers-central');
    expect(stacks.central.account).toBe('999988887777');
    expect(stacks.databases.map((s) => [s.stackName, s.account, s.region])).toEqual([
      ['dbusers-payments-prod-eu-west-1', '111122223333', 'eu-west-1'],
      ['dbusers-shop-staging-us-east-1', '444455556666', 'us-east-1'],
    ]);
  });

  it('passes cdk-nag AWS Solutions with every finding acknowledged', () => {
    const assembly = fresh().app.synth();
    expect(nagFindings(assembly.directory)).toEqual([]);
  });

  it('fails synthesis on a finding nobody acknowledged (the check can fail)', () => {
    const { app, stacks } = fresh();
    new iam.Policy(stacks.central, 'Careless', {
      statements: [new iam.PolicyStatement({ actions: ['s3:*'], resources: ['*'] })],
      roles: [iam.Role.fromRoleName(stacks.central, 'SomeRole', 'some-role')],
    });
    expect(() => app.synth()).toThrow(/AwsSolutions-IAM5\[Action::s3:\*\]/);
  });
});

describe('the central stack', () => {
  it('runs the reconciler bundle on Node.js 24 with its settings', () => {
    const { central } = synth();
    central.hasResourceProperties('AWS::Lambda::Function', {
      FunctionName: 'dbusers-reconciler',
      Runtime: 'nodejs24.x',
      Handler: 'index.handler',
      Timeout: 900,
      ReservedConcurrentExecutions: 1,
      Environment: {
        Variables: Match.objectLike({
          DBUSERS_REPOSITORY: 'dbusers-users',
          DBUSERS_BRANCH: 'main',
          DBUSERS_SSM_DOCUMENT: 'dbusers-executor',
          DBUSERS_EVENT_BUS: 'dbusers',
          DBUSERS_EXECUTOR_FUNCTION: 'dbusers-executor',
          DBUSERS_EXECUTION_ROLE: 'AssumableRoleInDatabaseAccount',
          DBUSERS_AUTOMATION_ROLE_ARN: { 'Fn::GetAtt': [Match.anyValue(), 'Arn'] },
          DBUSERS_COMMENT_AUTHOR_ARN: {
            'Fn::Join': [
              '',
              [
                'arn:',
                { Ref: 'AWS::Partition' },
                ':sts::999988887777:assumed-role/dbusers-reconciler/dbusers-reconciler',
              ],
            ],
          },
        }),
      },
    });
  });

  it('collects results in their own function, which can read executions and cannot start one', () => {
    const { central } = synth();
    central.hasResourceProperties('AWS::Lambda::Function', {
      FunctionName: 'dbusers-reconciler',
      Environment: { Variables: Match.objectLike({ DBUSERS_RESULTS: 'events' }) },
    });
    central.hasResourceProperties('AWS::Lambda::Function', {
      FunctionName: 'dbusers-results',
      Runtime: 'nodejs24.x',
      ReservedConcurrentExecutions: 10,
      Environment: {
        Variables: Match.objectLike({ DBUSERS_RESULTS: 'events', DBUSERS_SSM_DOCUMENT: 'dbusers-executor' }),
      },
    });
    const ofResults = JSON.stringify(
      Object.values(central.findResources('AWS::IAM::Policy'))
        .filter((p) => JSON.stringify(p.Properties.Roles).includes('ResultsRole'))
        .map((p) => p.Properties.PolicyDocument),
    );
    expect(ofResults).toContain('ssm:GetAutomationExecution');
    expect(ofResults).toContain('sts:AssumeRole');
    expect(ofResults).not.toContain('ssm:StartAutomationExecution');
    expect(ofResults).not.toContain('iam:PassRole');
  });

  it('deploys the bytes npm run bundle wrote', () => {
    const assembly = fresh().app.synth();
    for (const [stack, name] of [
      ['dbusers-central', 'reconciler'],
      ['dbusers-shop-staging-us-east-1', 'executor'],
    ] as const) {
      const resources = Object.values(assembly.getStackByName(stack).template.Resources) as {
        Type: string;
        Properties: { Code: { S3Key: string } };
      }[];
      const fn = resources.find((r) => r.Type === 'AWS::Lambda::Function')!;
      const asset = join(
        assembly.directory,
        `asset.${fn.Properties.Code.S3Key.replace(/\.zip$/, '')}`,
        'index.mjs',
      );
      expect(readFileSync(asset).equals(readFileSync(join(bundleDir, name, 'index.mjs')))).toBe(true);
    }
  });

  it('starts on a push to the branch, a pull request, the schedule and a forwarded rotation failure', () => {
    const { central } = synth();
    const repository = { 'Fn::GetAtt': [Match.stringLikeRegexp('^Repository'), 'Arn'] };
    central.hasResourceProperties('AWS::Events::Rule', {
      EventPattern: {
        source: ['aws.codecommit'],
        'detail-type': ['CodeCommit Repository State Change'],
        resources: [repository],
        detail: {
          event: ['referenceCreated', 'referenceUpdated'],
          referenceType: ['branch'],
          referenceName: ['main'],
        },
      },
    });
    central.hasResourceProperties('AWS::Events::Rule', {
      EventPattern: {
        source: ['aws.codecommit'],
        'detail-type': ['CodeCommit Pull Request State Change'],
        resources: [repository],
        detail: { event: ['pullRequestCreated', 'pullRequestSourceBranchUpdated'] },
      },
    });
    central.hasResourceProperties('AWS::Events::Rule', { ScheduleExpression: 'rate(1 hour)' });
    central.hasResourceProperties('AWS::Events::Rule', {
      EventBusName: { Ref: Match.stringLikeRegexp('^Bus') },
      EventPattern: { source: ['aws.secretsmanager'], detail: { eventName: ['RotationFailed'] } },
    });
    const targetsOf = (prefix: RegExp) =>
      Object.values(central.findResources('AWS::Events::Rule')).filter((rule) =>
        prefix.test(rule.Properties.Targets[0].Arn['Fn::GetAtt'][0]),
      );
    expect(targetsOf(/^Reconciler/)).toHaveLength(4);
    expect(targetsOf(/^Results/).map((rule) => rule.Properties.EventPattern)).toEqual([
      {
        source: ['aws.ssm'],
        'detail-type': ['EC2 Automation Execution Status-change Notification'],
        detail: {
          Definition: ['dbusers-executor'],
          Status: [
            'Success',
            'Failed',
            'TimedOut',
            'Cancelled',
            'CompletedWithSuccess',
            'CompletedWithFailure',
            'Rejected',
            'Exited',
          ],
        },
      },
    ]);
  });

  it('admits only the organisation to the bus, or only the listed accounts', () => {
    const { central } = synth();
    central.hasResourceProperties('AWS::Events::EventBusPolicy', {
      Statement: Match.objectLike({
        Action: 'events:PutEvents',
        Principal: { AWS: '*' },
        Condition: { StringEquals: { 'aws:PrincipalOrgID': 'o-exampleorgid' } },
      }),
    });
    const listed = synth((p) => ({ ...p, central: { ...p.central, organizationId: undefined } })).central;
    listed.hasResourceProperties('AWS::Events::EventBusPolicy', {
      Statement: Match.objectLike({
        Principal: {
          AWS: [
            { 'Fn::Join': ['', ['arn:', { Ref: 'AWS::Partition' }, ':iam::111122223333:root']] },
            { 'Fn::Join': ['', ['arn:', { Ref: 'AWS::Partition' }, ':iam::444455556666:root']] },
          ],
        },
      }),
    });
  });

  it('holds the automation document of infra/documents/ with its parameters', () => {
    const { central } = synth();
    const shipped = parse(readFileSync(DOCUMENT_FILE, 'utf8'));
    central.hasResourceProperties('AWS::SSM::Document', {
      Name: 'dbusers-executor',
      DocumentType: 'Automation',
      Content: shipped,
    });
    expect(Object.keys(shipped.parameters)).toEqual(
      expect.arrayContaining(['AutomationAssumeRole', 'LambdaFunctionName', 'Action', 'Batch']),
    );
  });

  it('creates the repository, or uses an existing one by name', () => {
    synth().central.resourceCountIs('AWS::CodeCommit::Repository', 1);
    const existing = synth((p) => ({
      ...p,
      central: { ...p.central, repository: { codecommit: { name: 'users-repo' } } },
    })).central;
    existing.resourceCountIs('AWS::CodeCommit::Repository', 0);
    expect(JSON.stringify(statements(existing))).toContain(':codecommit:eu-west-1:999988887777:users-repo');
  });

  it('trusts SSM for the automation role only for executions of this account', () => {
    synth().central.hasResourceProperties('AWS::IAM::Role', {
      RoleName: 'dbusers-automation-administration',
      AssumeRolePolicyDocument: {
        Statement: [
          Match.objectLike({
            Principal: { Service: 'ssm.amazonaws.com' },
            Condition: {
              StringEquals: { 'aws:SourceAccount': '999988887777' },
              ArnLike: { 'aws:SourceArn': Match.objectLike({}) },
            },
          }),
        ],
      },
    });
  });

  it('scopes every statement of the reconciler by ARN', () => {
    const all = statements(synth().central);
    expect(all.length).toBeGreaterThan(3);
    for (const s of all) expect([s.Resource].flat()).not.toContain('*');
    const assume = all.filter((s) => [s.Action].flat().includes('sts:AssumeRole'));
    expect(JSON.stringify(assume)).toContain(':iam::111122223333:role/AssumableRoleInDatabaseAccount');
    expect(JSON.stringify(assume)).toContain(':iam::444455556666:role/AssumableRoleInDatabaseAccount');
  });
});

describe('a database account stack', () => {
  it('runs the executor bundle on Node.js 24 in the given VPC and subnets, with the clusters of users/', () => {
    const { payments } = synth();
    payments.hasResourceProperties('AWS::Lambda::Function', {
      FunctionName: 'dbusers-executor',
      Runtime: 'nodejs24.x',
      Timeout: 280,
      VpcConfig: {
        SubnetIds: ['subnet-0aaa1111bbbb2222c', 'subnet-0ddd3333eeee4444f'],
        SecurityGroupIds: [{ 'Fn::GetAtt': [Match.stringLikeRegexp('^ExecutorSecurityGroup'), 'GroupId'] }],
      },
      Environment: {
        Variables: {
          DBUSERS_CLUSTERS: JSON.stringify(plan.databaseAccounts[0]!.clusters),
          ROTATION_LAMBDA_ARN: {
            'Fn::Join': [
              '',
              ['arn:', { Ref: 'AWS::Partition' }, ':lambda:eu-west-1:111122223333:function:dbusers-executor'],
            ],
          },
        },
      },
    });
    expect(JSON.parse(JSON.stringify(plan.databaseAccounts[0]!.clusters))).toEqual([
      expect.objectContaining({ name: 'orders', endpoint: 'orders.cluster-abc.eu-west-1.rds.amazonaws.com' }),
    ]);
  });

  it('opens the database security group to the executor group on the port, never to a CIDR', () => {
    const { shop } = synth();
    shop.hasResourceProperties('AWS::EC2::SecurityGroupIngress', {
      GroupId: 'sg-0fedcba9876543210',
      IpProtocol: 'tcp',
      FromPort: 3306,
      ToPort: 3306,
      SourceSecurityGroupId: { 'Fn::GetAtt': [Match.stringLikeRegexp('^ExecutorSecurityGroup'), 'GroupId'] },
    });
    for (const ingress of Object.values(shop.findResources('AWS::EC2::SecurityGroupIngress')))
      expect(ingress.Properties.CidrIp).toBeUndefined();
  });

  it('makes the Secrets Manager endpoint when asked, and then sends HTTPS only to it', () => {
    const { payments, shop } = synth();
    payments.hasResourceProperties('AWS::EC2::VPCEndpoint', {
      ServiceName: 'com.amazonaws.eu-west-1.secretsmanager',
      VpcEndpointType: 'Interface',
      PrivateDnsEnabled: true,
      SubnetIds: ['subnet-0aaa1111bbbb2222c', 'subnet-0ddd3333eeee4444f'],
    });
    expect(JSON.stringify(payments.findResources('AWS::EC2::SecurityGroup'))).not.toContain('0.0.0.0/0');
    shop.resourceCountIs('AWS::EC2::VPCEndpoint', 0);
  });

  it('trusts the central reconciler, the central automation, and SSM for this account only', () => {
    synth().shop.hasResourceProperties('AWS::IAM::Role', {
      RoleName: 'AssumableRoleInDatabaseAccount',
      AssumeRolePolicyDocument: {
        Statement: [
          Match.objectLike({
            Principal: {
              AWS: {
                'Fn::Join': [
                  '',
                  ['arn:', { Ref: 'AWS::Partition' }, ':iam::999988887777:role/dbusers-reconciler'],
                ],
              },
            },
          }),
          Match.objectLike({
            Principal: {
              AWS: {
                'Fn::Join': [
                  '',
                  [
                    'arn:',
                    { Ref: 'AWS::Partition' },
                    ':iam::999988887777:role/dbusers-automation-administration',
                  ],
                ],
              },
            },
          }),
          Match.objectLike({
            Principal: { Service: 'ssm.amazonaws.com' },
            Condition: {
              StringEquals: { 'aws:SourceAccount': '444455556666' },
              ArnLike: {
                'aws:SourceArn': {
                  'Fn::Join': [
                    '',
                    ['arn:', { Ref: 'AWS::Partition' }, ':ssm:*:444455556666:automation-execution/*'],
                  ],
                },
              },
            },
          }),
        ],
      },
    });
  });

  it('gives the executor its secrets by ARN, and * only where AWS has no resource', () => {
    const all = statements(synth().shop);
    const bySid = Object.fromEntries(all.filter((s) => s.Sid).map((s) => [s.Sid, s]));
    expect(bySid.ReadMasterSecrets!.Resource).toEqual([
      'arn:aws:secretsmanager:us-east-1:444455556666:secret:catalog-master-AbCdEf',
      'arn:aws:secretsmanager:us-east-1:444455556666:secret:catalog-master-AbCdEf-??????',
    ]);
    expect(JSON.stringify(bySid.ChangeManagedSecrets)).toContain(
      ':secretsmanager:us-east-1:444455556666:secret:shop/catalog/*',
    );
    expect(JSON.stringify(bySid.ChangeManagedSecrets)).toContain('"aws:ResourceTag/managed-by":"dbusers"');
    expect(JSON.stringify(bySid.CreateManagedSecrets)).toContain('"aws:RequestTag/managed-by":"dbusers"');
    const wildcard = all.filter((s) => [s.Resource].flat().includes('*')).map((s) => s.Sid);
    expect(wildcard.sort()).toEqual([
      'AccountWideSecretCalls',
      'FindChildExecutions',
      'VpcNetworkInterfaces',
    ]);
    expect(bySid.AccountWideSecretCalls!.Action).toEqual([
      'secretsmanager:GetRandomPassword',
      'secretsmanager:ListSecrets',
      'secretsmanager:BatchGetSecretValue',
    ]);
  });

  it('scopes the default secret template of payments-prod to its cluster', () => {
    const managed = statements(synth().payments).find((s) => s.Sid === 'ChangeManagedSecrets')!;
    expect(JSON.stringify(managed.Resource)).toContain(':secret:rds-orders-*');
  });

  it('lets Secrets Manager of this account invoke the executor for rotation', () => {
    synth().shop.hasResourceProperties('AWS::Lambda::Permission', {
      Action: 'lambda:InvokeFunction',
      Principal: 'secretsmanager.amazonaws.com',
      SourceAccount: '444455556666',
    });
  });

  it('forwards RotationFailed of managed secrets to the central bus', () => {
    synth().shop.hasResourceProperties('AWS::Events::Rule', {
      EventPattern: {
        source: ['aws.secretsmanager'],
        'detail-type': ['AWS Service Event via CloudTrail'],
        detail: {
          eventName: ['RotationFailed'],
          additionalEventData: {
            SecretId: [
              {
                prefix: {
                  'Fn::Join': [
                    '',
                    [
                      'arn:',
                      { Ref: 'AWS::Partition' },
                      ':secretsmanager:us-east-1:444455556666:secret:shop/catalog/',
                    ],
                  ],
                },
              },
            ],
          },
        },
      },
      Targets: [
        Match.objectLike({
          Arn: {
            'Fn::Join': [
              '',
              ['arn:', { Ref: 'AWS::Partition' }, ':events:eu-west-1:999988887777:event-bus/dbusers'],
            ],
          },
        }),
      ],
    });
  });

  it('grants rds-db:connect to the IAM principals users/ declares', () => {
    synth().shop.hasResourceProperties('AWS::IAM::Policy', {
      PolicyDocument: {
        Statement: [
          {
            Action: 'rds-db:connect',
            Effect: 'Allow',
            Resource: {
              'Fn::Join': [
                '',
                [
                  'arn:',
                  { Ref: 'AWS::Partition' },
                  ':rds-db:us-east-1:444455556666:dbuser:db-ABCDEFGHIJKLMNOPQRSTUVWXY1/search_indexer',
                ],
              ],
            },
          },
        ],
      },
      Roles: ['search-indexer'],
    });
  });

  it('tells, instead of attaching to a namesake, when the IAM principal lives in another account', () => {
    const elsewhere = 'arn:aws:iam::777777777777:role/search-indexer';
    const { stacks, shop } = synth((p) => ({
      ...p,
      databaseAccounts: p.databaseAccounts.map((d) => ({
        ...d,
        iamConnections: d.iamConnections.map((c) => ({ ...c, principal: elsewhere })),
      })),
    }));
    expect(JSON.stringify(statements(shop))).not.toContain('rds-db:connect');
    Annotations.fromStack(stacks.databases[1]!).hasWarning(
      '*',
      Match.stringLikeRegexp(
        `^${elsewhere} may connect as search_indexer on catalog: grant it rds-db:connect .* in account 777777777777`,
      ),
    );
  });

  it('connects as an IAM admin user when asked, by the cluster resource id', () => {
    const { shop } = synth((p) => ({
      ...p,
      databaseAccounts: p.databaseAccounts.map((d, i) =>
        i === 1 ? { ...d, network: { ...d.network, adminIamUser: 'dbusers_admin' } } : d,
      ),
    }));
    const admin = statements(shop).find((s) => s.Sid === 'ConnectAsAdmin')!;
    expect(JSON.stringify(admin.Resource)).toContain(':dbuser:db-ABCDEFGHIJKLMNOPQRSTUVWXY1/dbusers_admin');
    shop.hasResourceProperties('AWS::Lambda::Function', {
      Environment: { Variables: Match.objectLike({ DBUSERS_ADMIN_IAM_USER: 'dbusers_admin' }) },
    });
  });

  it('keeps its stack free of references to another account', () => {
    const { shop } = synth();
    expect(JSON.stringify(shop.toJSON())).not.toMatch(/Fn::ImportValue/);
    expect(Stack.of(synth().stacks.databases[1]!).account).toBe('444455556666');
  });
});

describe('the StackSet form', () => {
  const stackSet = (p: DeploymentPlan) => ({ ...p, baselineStackSet: true });

  it('moves the execution role and the forwarding rule into one environment-agnostic template', () => {
    const { stacks, shop } = synth(stackSet);
    shop.resourcePropertiesCountIs('AWS::IAM::Role', { RoleName: 'AssumableRoleInDatabaseAccount' }, 0);
    shop.resourceCountIs('AWS::Events::Rule', 0);
    const baseline = Template.fromStack(stacks.baseline!);
    // Environment-agnostic: the account is whichever the StackSet deploys to.
    expect(Token.isUnresolved(stacks.baseline!.account)).toBe(true);
    baseline.hasResourceProperties('AWS::IAM::Role', {
      RoleName: 'AssumableRoleInDatabaseAccount',
      AssumeRolePolicyDocument: {
        Statement: Match.arrayWith([
          Match.objectLike({
            Principal: { Service: 'ssm.amazonaws.com' },
            Condition: Match.objectLike({ StringEquals: { 'aws:SourceAccount': { Ref: 'AWS::AccountId' } } }),
          }),
        ]),
      },
    });
    baseline.hasResourceProperties('AWS::Events::Rule', {
      EventPattern: { source: ['aws.secretsmanager'], detail: { eventName: ['RotationFailed'] } },
      Targets: [
        Match.objectLike({
          Arn: {
            'Fn::Join': [
              '',
              ['arn:', { Ref: 'AWS::Partition' }, ':events:eu-west-1:999988887777:event-bus/dbusers'],
            ],
          },
        }),
      ],
    });
    const invoke = statements(baseline).find((st) => st.Sid === 'InvokeExecutor')!;
    expect(invoke.Resource).toEqual({
      'Fn::Join': [
        '',
        [
          'arn:',
          { Ref: 'AWS::Partition' },
          ':lambda:*:',
          { Ref: 'AWS::AccountId' },
          ':function:dbusers-executor',
        ],
      ],
    });
  });

  it('needs no CDK bootstrap in the target accounts and passes cdk-nag', () => {
    const { app } = fresh(stackSet);
    const assembly = app.synth();
    const template = assembly.getStackByName('dbusers-database-baseline').template;
    expect(template.Parameters?.BootstrapVersion).toBeUndefined();
    expect(nagFindings(assembly.directory)).toEqual([]);
  });
});

describe('the GitHub form', () => {
  const onGitHub =
    (extra: Record<string, string> = {}) =>
    (p: DeploymentPlan) => ({
      ...p,
      central: { ...p.central, repository: { github: { owner: 'example', repo: 'db-users', ...extra } } },
    });
  const principalOf = (template: Template, roleName: string) =>
    Object.values(template.findResources('AWS::IAM::Role', { Properties: { RoleName: roleName } }))[0]!
      .Properties.AssumeRolePolicyDocument.Statement;

  it('trusts the workflow by OIDC: the plan role for pull requests, the apply role for main only', () => {
    const { central } = synth(onGitHub());
    central.hasResourceProperties('AWS::IAM::OIDCProvider', {
      Url: 'https://token.actions.githubusercontent.com',
      ClientIdList: ['sts.amazonaws.com'],
    });
    const provider = { Ref: expect.stringMatching(/^GitHubOidc/) };
    for (const [role, subject] of [
      ['dbusers-github-plan', 'repo:example/db-users:pull_request'],
      ['dbusers-github-apply', 'repo:example/db-users:ref:refs/heads/main'],
    ] as const)
      expect(principalOf(central, role)).toEqual([
        {
          Action: 'sts:AssumeRoleWithWebIdentity',
          Effect: 'Allow',
          Principal: { Federated: provider },
          Condition: {
            StringEquals: {
              'token.actions.githubusercontent.com:aud': 'sts.amazonaws.com',
              'token.actions.githubusercontent.com:sub': subject,
            },
          },
        },
      ]);
    central.hasOutput('GitHubPlanRoleArn', {});
    central.hasOutput('GitHubApplyRoleArn', {});
  });

  it('lets the plan role invoke only the read-only planner, which cannot start an automation', () => {
    const { central } = synth(onGitHub());
    central.hasResourceProperties('AWS::Lambda::Function', {
      FunctionName: 'dbusers-planner',
      Runtime: 'nodejs24.x',
      Environment: {
        Variables: Match.objectLike({ DBUSERS_READ_ONLY: 'true', DBUSERS_EVENT_BUS: 'dbusers' }),
      },
    });
    const policies = Object.values(central.findResources('AWS::IAM::Policy'));
    const of = (roleLogicalPrefix: string) =>
      policies
        .filter((p) => JSON.stringify(p.Properties.Roles).includes(roleLogicalPrefix))
        .flatMap((p) => p.Properties.PolicyDocument.Statement);
    const plan = JSON.stringify(of('GitHubPlanRole'));
    expect(plan).toContain('lambda:InvokeFunction');
    expect(plan).toMatch(/Planner[0-9A-F]{8}/);
    expect(plan).not.toMatch(/"Reconciler[0-9A-F]{8}"/);
    const planner = JSON.stringify(of('PlannerRole'));
    expect(planner).not.toContain('ssm:StartAutomationExecution');
    expect(planner).not.toContain('iam:PassRole');
    expect(planner).toContain('sts:AssumeRole');
    expect(JSON.stringify(of('GitHubApplyRole'))).toMatch(/Reconciler[0-9A-F]{8}/);
  });

  it('has no CodeCommit repository or rules, keeps the rotation rule, and passes cdk-nag', () => {
    const { app, stacks } = fresh(onGitHub());
    const central = Template.fromStack(stacks.central);
    central.resourceCountIs('AWS::CodeCommit::Repository', 0);
    expect(
      Object.values(central.findResources('AWS::Events::Rule')).map((r) => r.Properties.EventPattern?.source),
    ).toEqual([['aws.secretsmanager'], ['aws.ssm']]);
    expect(JSON.stringify(central.toJSON())).not.toContain('DBUSERS_REPOSITORY');
    expect(nagFindings(app.synth().directory)).toEqual([]);
  });

  it("uses the account's existing OIDC provider when given, and the database accounts trust the planner", () => {
    const arn = 'arn:aws:iam::999988887777:oidc-provider/token.actions.githubusercontent.com';
    const { central, shop } = synth(onGitHub({ oidcProviderArn: arn }));
    central.resourceCountIs('AWS::IAM::OIDCProvider', 0);
    expect(principalOf(central, 'dbusers-github-plan')[0].Principal).toEqual({ Federated: arn });
    expect(JSON.stringify(principalOf(shop, 'AssumableRoleInDatabaseAccount'))).toContain(
      ':iam::999988887777:role/dbusers-planner',
    );
    expect(JSON.stringify(principalOf(synth().shop, 'AssumableRoleInDatabaseAccount'))).not.toContain(
      'dbusers-planner',
    );
  });
});
