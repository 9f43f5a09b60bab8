/** Names both stacks agree on (they live in different accounts, so they meet by name, not by reference). */
import { Validations } from 'aws-cdk-lib';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import type { IConstruct } from 'constructs';

/**
 * Node.js 24: the runtime the bundles are built for (`target: node24`) and tested on. cdk-nag's L1
 * asks for the newest runtime aws-cdk-lib knows; each function acknowledges it with this reason.
 */
export const RUNTIME = lambda.Runtime.NODEJS_24_X;

/** Why a function stays on {@link RUNTIME}. */
export const RUNTIME_REASON =
  'Node.js 24 is the runtime the bundles are built (esbuild target node24) and tested for; moving on is a tested change, not a default';

/** The event bus in the central account that results go to and database accounts forward to. */
export const CENTRAL_BUS_NAME = 'dbusers';

/** The SSM Automation document the central account runs in every database account. */
export const DOCUMENT_NAME = 'dbusers-executor';

/** Roles in the central account that each database account's execution role trusts. */
export const CENTRAL_ROLE_NAMES = {
  reconciler: 'dbusers-reconciler',
  automation: 'dbusers-automation-administration',
  /** Collects the results of ended automations (SSM status-change events). */
  results: 'dbusers-results',
  /** GitHub only: the read-only planner the pull-request role invokes. */
  planner: 'dbusers-planner',
} as const;

/**
 * Acknowledge cdk-nag findings on a construct, each with its reason. Ids may hold the stack's
 * pseudo parameters as tokens; they are written as cdk-nag prints them (`<AWS::Partition>`, …).
 */
export function acknowledge(construct: IConstruct, findings: Record<string, string>): void {
  for (const [id, reason] of Object.entries(findings))
    Validations.of(construct).acknowledge({ id: nagId(id), reason });
}

function nagId(id: string): string {
  return id.replace(/\$\{Token\[AWS\.(Partition|Region|AccountId)\.\d+\]\}/g, '<AWS::$1>');
}
