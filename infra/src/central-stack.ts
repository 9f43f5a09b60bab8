/**
 * The central (tooling) account: the reconciler Lambda and the EventBridge rules that start it (a
 * push to the branch, a pull request opened or updated, the drift schedule, rotation failures
 * forwarded by the database accounts), the results function fed by SSM's status-change events, the
 * bus results go to and database accounts forward to, the SSM Automation document, the role the
 * automation runs as, and the CodeCommit repository, or, for GitHub, the OIDC provider, the
 * read-only planner and the roles the workflow assumes.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ArnFormat, CfnOutput, Duration, Stack, type StackProps } from 'aws-cdk-lib';
import * as codecommit from 'aws-cdk-lib/aws-codecommit';
import * as events from 'aws-cdk-lib/aws-events';
import * as targets from 'aws-cdk-lib/aws-events-targets';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as ssm from 'aws-cdk-lib/aws-ssm';
import type { Construct } from 'constructs';
import { parse } from 'yaml';
import { AUTOMATION_ENDED } from '../../reconciler/src/adapters/aws/automation-status.js';
import {
  acknowledge,
  CENTRAL_BUS_NAME,
  CENTRAL_ROLE_NAMES,
  DOCUMENT_NAME,
  RUNTIME,
  RUNTIME_REASON,
} from './shared.js';

/** The automation document, as shipped in infra/documents/ and tested there. */
export const DOCUMENT_FILE = join(import.meta.dirname, '..', 'documents', 'dbusers-executor.yaml');

/** Where users/ lives: a CodeCommit repository (created, or an existing one by name), or GitHub. */
export type RepositorySpec =
  | { readonly codecommit: { readonly name: string; readonly create?: boolean } }
  | {
      readonly github: {
        readonly owner: string;
        readonly repo: string;
        /** The account's GitHub OIDC provider, when it has one already (one per account). @default a new one */
        readonly oidcProviderArn?: string;
      };
    };

/** Props of {@link CentralStack}. */
export interface CentralStackProps extends StackProps {
  /** Where users/ lives. */
  readonly repository: RepositorySpec;
  /** The branch whose pushes apply. @default "main" */
  readonly branch?: string;
  /** The database accounts: the reconciler may assume their execution role, and they may send events here. */
  readonly databaseAccounts: readonly string[];
  /** Admit every account of this organisation to the bus instead of the list above. */
  readonly organizationId?: string;
  /** The drift check's schedule (CodeCommit; on GitHub the workflow's cron runs it). @default "rate(1 hour)" */
  readonly driftSchedule?: string;
  /** The folder holding `reconciler/index.mjs` from `npm run bundle`. @default "dist" */
  readonly bundleDir?: string;
  /** @default "dbusers-executor" */
  readonly executorFunctionName?: string;
  /** @default "AssumableRoleInDatabaseAccount" */
  readonly executionRoleName?: string;
  /** @default 90 */
  readonly logRetentionDays?: number;
}

/** Everything the central account runs. */
export class CentralStack extends Stack {
  /** The reconciler Lambda (push, pull request, drift and rotation-failure flows). */
  readonly reconciler: lambda.Function;
  /** The function collecting an ended automation's results from its status-change event. */
  readonly results: lambda.Function;
  /** GitHub only: the read-only function the pull-request role may invoke. */
  readonly planner?: lambda.Function;
  /** The bus results are published to and database accounts forward rotation failures to. */
  readonly bus: events.EventBus;
  private readonly executionRoles: string[];

  constructor(scope: Construct, id: string, props: CentralStackProps) {
    super(scope, id, props);
    const branch = props.branch ?? 'main';
    const executionRoleName = props.executionRoleName ?? 'AssumableRoleInDatabaseAccount';
    this.executionRoles = props.databaseAccounts.map(
      (account) => `arn:${this.partition}:iam::${account}:role/${executionRoleName}`,
    );
    this.bus = new events.EventBus(this, 'Bus', { eventBusName: CENTRAL_BUS_NAME });
    this.admitDatabaseAccounts(props);

    new ssm.CfnDocument(this, 'Document', {
      name: DOCUMENT_NAME,
      documentType: 'Automation',
      documentFormat: 'YAML',
      content: parse(readFileSync(DOCUMENT_FILE, 'utf8')),
      updateMethod: 'NewVersion',
    });
    const automationRole = new iam.Role(this, 'AutomationRole', {
      roleName: CENTRAL_ROLE_NAMES.automation,
      description: 'dbusers: the parent automation, starting the document in each database account',
      assumedBy: new iam.PrincipalWithConditions(new iam.ServicePrincipal('ssm.amazonaws.com'), {
        StringEquals: { 'aws:SourceAccount': this.account },
        ArnLike: { 'aws:SourceArn': `arn:${this.partition}:ssm:*:${this.account}:automation-execution/*` },
      }),
      inlinePolicies: {
        AssumeExecutionRoles: new iam.PolicyDocument({
          statements: [
            new iam.PolicyStatement({ actions: ['sts:AssumeRole'], resources: this.executionRoles }),
          ],
        }),
      },
    });

    const codecommitRepo = 'codecommit' in props.repository ? props.repository.codecommit : undefined;
    this.reconciler = this.reconcilerFunction('Reconciler', CENTRAL_ROLE_NAMES.reconciler, props, {
      description: 'dbusers reconciler: push, pull request, drift schedule and rotation-failure flows',
      environment: {
        ...(codecommitRepo ? { DBUSERS_REPOSITORY: codecommitRepo.name } : {}),
        DBUSERS_BRANCH: branch,
        DBUSERS_AUTOMATION_ROLE_ARN: automationRole.roleArn,
        // Lambda's session is named after the function: the ARN its comments carry.
        DBUSERS_COMMENT_AUTHOR_ARN: `arn:${this.partition}:sts::${this.account}:assumed-role/${CENTRAL_ROLE_NAMES.reconciler}/${CENTRAL_ROLE_NAMES.reconciler}`,
      },
    });
    automationRole.grantPassRole(this.reconciler.role!);
    const policy = new iam.Policy(this, 'ReconcilerPolicy', {
      statements: [
        new iam.PolicyStatement({
          sid: 'StartTheDocument',
          actions: ['ssm:StartAutomationExecution'],
          resources: [
            this.ssmArn('document', DOCUMENT_NAME),
            this.ssmArn('automation-definition', `${DOCUMENT_NAME}:*`),
          ],
        }),
        new iam.PolicyStatement({
          sid: 'ReadExecutions',
          actions: ['ssm:GetAutomationExecution'],
          resources: [this.ssmArn('automation-execution', '*')],
        }),
      ],
    });
    this.reconciler.role!.attachInlinePolicy(policy);
    acknowledge(policy, {
      [`AwsSolutions-IAM5[Resource::${this.ssmArn('automation-definition', `${DOCUMENT_NAME}:*`)}]`]:
        'any version of the one dbusers document',
      [`AwsSolutions-IAM5[Resource::${this.ssmArn('automation-execution', '*')}]`]:
        'execution ids are made by SSM at run time; scoped to this account and Region',
    });

    const target = new targets.LambdaFunction(this.reconciler, {
      retryAttempts: 2,
      maxEventAge: Duration.hours(2),
    });
    new events.Rule(this, 'OnRotationFailed', {
      description: 'dbusers: a managed secret failed to rotate in a database account; reset it',
      eventBus: this.bus,
      eventPattern: {
        source: ['aws.secretsmanager'],
        detailType: ['AWS Service Event via CloudTrail'],
        detail: { eventName: ['RotationFailed'] },
      },
      targets: [target],
    });
    this.results = this.resultCollection(props);
    if (codecommitRepo) this.codecommitFlows(codecommitRepo, branch, target, props);
    else if ('github' in props.repository)
      this.planner = this.githubFlows(props.repository.github, branch, props);
  }

  /**
   * A function running the reconciler bundle (Node.js 24), with its own log group, a role that may
   * write to it, inspect through the execution roles and publish on the bus.
   */
  private reconcilerFunction(
    id: string,
    name: string,
    props: CentralStackProps,
    options: { description: string; environment: Record<string, string>; concurrency?: number },
  ): lambda.Function {
    const logGroup = new logs.LogGroup(this, `${id}Logs`, {
      logGroupName: `/aws/lambda/${name}`,
      retention: props.logRetentionDays ?? 90,
    });
    const role = new iam.Role(this, `${id}Role`, {
      roleName: name,
      description: options.description,
      assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com'),
    });
    const fn = new lambda.Function(this, id, {
      functionName: name,
      description: options.description,
      runtime: RUNTIME,
      code: lambda.Code.fromAsset(join(props.bundleDir ?? 'dist', 'reconciler')),
      handler: 'index.handler',
      architecture: lambda.Architecture.ARM_64,
      memorySize: 1024,
      // A fleet run (1,500 targets at 128 at once) takes ~9 simulated minutes: npm run bench:fleet.
      timeout: Duration.minutes(15),
      // One run at a time: a second push waits instead of racing the first on the same clusters.
      reservedConcurrentExecutions: options.concurrency ?? 1,
      role,
      logGroup,
      // What every one of them needs to inspect through the executor and publish on the bus; the
      // automations they start return at once, their status-change events bring the results.
      environment: {
        DBUSERS_EVENT_BUS: CENTRAL_BUS_NAME,
        DBUSERS_SSM_DOCUMENT: DOCUMENT_NAME,
        DBUSERS_EXECUTOR_FUNCTION: props.executorFunctionName ?? 'dbusers-executor',
        DBUSERS_EXECUTION_ROLE: props.executionRoleName ?? 'AssumableRoleInDatabaseAccount',
        DBUSERS_RESULTS: 'events',
        ...options.environment,
      },
    });
    acknowledge(fn, { 'AwsSolutions-L1': RUNTIME_REASON });
    this.bus.grantPutEventsTo(fn);
    role.attachInlinePolicy(
      new iam.Policy(this, `${id}AccessPolicy`, {
        statements: [
          new iam.PolicyStatement({
            sid: 'InspectThroughExecutionRoles',
            actions: ['sts:AssumeRole'],
            resources: this.executionRoles,
          }),
        ],
      }),
    );
    logGroup.grantWrite(role);
    return fn;
  }

  /**
   * Results by event, not by polling: SSM announces each ended execution on the default bus; this
   * function reads the batch back from the execution, the child's per-action results from the
   * database account, and publishes them. Several at once: each takes about a second.
   */
  private resultCollection(props: CentralStackProps): lambda.Function {
    const fn = this.reconcilerFunction('Results', CENTRAL_ROLE_NAMES.results, props, {
      description: 'dbusers results: collects the per-action results of an ended automation',
      concurrency: 10,
      environment: {},
    });
    const executions = this.ssmArn('automation-execution', '*');
    const policy = new iam.Policy(this, 'ResultsReadExecutions', {
      statements: [
        new iam.PolicyStatement({ actions: ['ssm:GetAutomationExecution'], resources: [executions] }),
      ],
    });
    fn.role!.attachInlinePolicy(policy);
    acknowledge(policy, {
      [`AwsSolutions-IAM5[Resource::${executions}]`]:
        'execution ids are made by SSM at run time; scoped to this account and Region',
    });
    new events.Rule(this, 'OnAutomationEnded', {
      description: 'dbusers: an automation of the dbusers document ended; collect its results',
      eventPattern: {
        source: ['aws.ssm'],
        detailType: ['EC2 Automation Execution Status-change Notification'],
        detail: {
          Definition: [DOCUMENT_NAME],
          Status: [...AUTOMATION_ENDED],
        },
      },
      targets: [new targets.LambdaFunction(fn, { retryAttempts: 4, maxEventAge: Duration.hours(6) })],
    });
    return fn;
  }

  /** CodeCommit: the repository, and the rules for a push to the branch, a pull request and the schedule. */
  private codecommitFlows(
    spec: { readonly name: string; readonly create?: boolean },
    branch: string,
    target: targets.LambdaFunction,
    props: CentralStackProps,
  ): void {
    const repository = spec.create
      ? new codecommit.Repository(this, 'Repository', {
          repositoryName: spec.name,
          description: 'dbusers: the database users, roles and grants of every account (users/)',
        })
      : codecommit.Repository.fromRepositoryName(this, 'Repository', spec.name);
    repository.grant(
      this.reconciler,
      'codecommit:GetFolder',
      'codecommit:GetFile',
      'codecommit:GetBlob',
      'codecommit:GetDifferences',
      'codecommit:GetPullRequest',
      'codecommit:ListPullRequests',
      'codecommit:GetCommentsForPullRequest',
      'codecommit:PostCommentForPullRequest',
      'codecommit:UpdateComment',
    );
    new events.Rule(this, 'OnPush', {
      description: `dbusers: a push to ${branch} applies`,
      eventPattern: {
        source: ['aws.codecommit'],
        detailType: ['CodeCommit Repository State Change'],
        resources: [repository.repositoryArn],
        detail: {
          event: ['referenceCreated', 'referenceUpdated'],
          referenceType: ['branch'],
          referenceName: [branch],
        },
      },
      targets: [target],
    });
    new events.Rule(this, 'OnPullRequest', {
      description: 'dbusers: a pull request opened or updated gets a plan comment',
      eventPattern: {
        source: ['aws.codecommit'],
        detailType: ['CodeCommit Pull Request State Change'],
        resources: [repository.repositoryArn],
        detail: { event: ['pullRequestCreated', 'pullRequestSourceBranchUpdated'] },
      },
      targets: [target],
    });
    new events.Rule(this, 'DriftSchedule', {
      description: 'dbusers: the drift check',
      schedule: events.Schedule.expression(props.driftSchedule ?? 'rate(1 hour)'),
      targets: [target],
    });
  }

  /**
   * GitHub: the OIDC provider, the read-only planner, and the two roles the workflow assumes: the
   * plan role (pull requests of the repository only) may invoke the planner, the apply role (the
   * branch only: pushes and the scheduled drift check) the reconciler.
   */
  private githubFlows(
    spec: { readonly owner: string; readonly repo: string; readonly oidcProviderArn?: string },
    branch: string,
    props: CentralStackProps,
  ): lambda.Function {
    const issuer = 'token.actions.githubusercontent.com';
    const providerArn =
      spec.oidcProviderArn ??
      new iam.OidcProviderNative(this, 'GitHubOidc', {
        url: `https://${issuer}`,
        clientIds: ['sts.amazonaws.com'],
      }).oidcProviderArn;
    const planner = this.reconcilerFunction('Planner', CENTRAL_ROLE_NAMES.planner, props, {
      description: 'dbusers planner: plans pull requests from the GitHub workflow, read only',
      environment: { DBUSERS_READ_ONLY: 'true', DBUSERS_BRANCH: branch },
    });
    const role = (id: string, name: string, subject: string, fn: lambda.Function) => {
      const r = new iam.Role(this, id, {
        roleName: name,
        description: `dbusers: assumed by the GitHub workflow of ${spec.owner}/${spec.repo} (${subject})`,
        maxSessionDuration: Duration.hours(1),
        assumedBy: new iam.WebIdentityPrincipal(providerArn, {
          StringEquals: {
            [`${issuer}:aud`]: 'sts.amazonaws.com',
            [`${issuer}:sub`]: `repo:${spec.owner}/${spec.repo}:${subject}`,
          },
        }),
      });
      // Not fn.grantInvoke: that adds every version and alias (`:*`); the workflow calls $LATEST only.
      r.addToPolicy(
        new iam.PolicyStatement({ actions: ['lambda:InvokeFunction'], resources: [fn.functionArn] }),
      );
      new CfnOutput(this, `${id}Arn`, { value: r.roleArn, description: `the workflow variable for ${name}` });
      return r;
    };
    role('GitHubPlanRole', 'dbusers-github-plan', 'pull_request', planner);
    role('GitHubApplyRole', 'dbusers-github-apply', `ref:refs/heads/${branch}`, this.reconciler);
    return planner;
  }

  /** Database accounts may put events on the bus: the organisation's accounts, or the listed ones. */
  private admitDatabaseAccounts(props: CentralStackProps): void {
    const statement = props.organizationId
      ? new iam.PolicyStatement({
          sid: 'DatabaseAccountsOfTheOrganization',
          actions: ['events:PutEvents'],
          principals: [new iam.AnyPrincipal()],
          resources: [this.bus.eventBusArn],
          conditions: { StringEquals: { 'aws:PrincipalOrgID': props.organizationId } },
        })
      : new iam.PolicyStatement({
          sid: 'DatabaseAccounts',
          actions: ['events:PutEvents'],
          principals: props.databaseAccounts.map((a) => new iam.AccountPrincipal(a)),
          resources: [this.bus.eventBusArn],
        });
    this.bus.addToResourcePolicy(statement);
  }

  private ssmArn(resource: string, name: string): string {
    return this.formatArn({
      service: 'ssm',
      resource,
      resourceName: name,
      arnFormat: ArnFormat.SLASH_RESOURCE_NAME,
    });
  }
}
