/** The plan as a person reads it: terminal text like `terraform plan`, or a Markdown PR comment. Pure. */
import { describeGrant, diffGrants, diffNames } from '../model/grants.js';
import type { BatchResult } from '../model/batch.js';
import { displayAccount, REFUSAL_REASONS, type Action, type Plan } from '../model/types.js';

const SYMBOL: Record<Action['kind'], string> = {
  create_role: '+', create_user: '+', update_grant: '~', reset_password: '~', delete_user: '-', drop_role: '-',
};

function headline(a: Action): string {
  switch (a.kind) {
    case 'create_role':
      return `${a.adopt ? 'adopt' : 'create'} role '${a.user}'`;
    case 'create_user':
      return `${a.adopt ? 'adopt' : 'create'} user ${displayAccount(a)} (${a.auth}${a.secretName ? `, secret ${a.secretName}` : ''})`;
    case 'update_grant':
      return `grants ${a.accountKind === 'role' ? `role '${a.user}'` : displayAccount(a)}`;
    case 'reset_password':
      return `reset password ${displayAccount(a)} (secret ${a.secretName})`;
    case 'delete_user':
      return `delete user ${displayAccount(a)}${a.secretName ? ` (secret ${a.secretName} scheduled for deletion)` : ''}`;
    case 'drop_role':
      return `drop role '${a.user}'`;
  }
}

/** The grant and role lines under an action, each with its own symbol. */
function details(a: Action): string[] {
  if (a.kind === 'create_role' || a.kind === 'create_user') {
    return [...a.grants.map((g) => `+ ${describeGrant(g)}`), ...a.roles.map((r) => `+ role ${r}`)];
  }
  if (a.kind === 'update_grant') {
    const g = diffGrants(a.grants, a.before.grants);
    const r = diffNames(a.roles, a.before.roles);
    return [
      ...g.add.map((x) => `+ ${describeGrant(x)}`),
      ...g.remove.map((x) => `- ${describeGrant(x)}`),
      ...r.add.map((x) => `+ role ${x}`),
      ...r.remove.map((x) => `- role ${x}`),
    ];
  }
  return [];
}

/** Counts for the summary line. */
export function summarise(plans: readonly Plan[]): { create: number; change: number; delete: number } {
  return count(plans.flatMap((p) => p.actions));
}

/** What an apply did: only the actions that completed, counted as the plan counts them. */
export function summariseDone(results: readonly BatchResult[]): { create: number; change: number; delete: number } {
  return count(results.flatMap((r) => r.results.filter((x) => x.status === 'ok')));
}

function count(actions: readonly { kind: Action['kind'] }[]): { create: number; change: number; delete: number } {
  return {
    create: actions.filter((a) => SYMBOL[a.kind] === '+').length,
    change: actions.filter((a) => SYMBOL[a.kind] === '~').length,
    delete: actions.filter((a) => SYMBOL[a.kind] === '-').length,
  };
}

function skippedLines(p: Plan): string[] {
  const unmanaged = p.skipped.filter((s) => s.reason === 'unmanaged' || s.reason === 'protected');
  const notable = p.skipped.filter((s) => s.reason !== 'unmanaged' && s.reason !== 'protected');
  return [
    ...notable.map((s) => `! ${s.reason}: ${displayAccount(s)}: ${s.detail}`),
    ...(unmanaged.length > 0 ? [`  left alone: ${unmanaged.map((s) => `${displayAccount(s)} (${s.reason})`).join(', ')}`] : []),
    ...p.exceptions.map((e) => `! privilege exception: ${e.grant} for ${displayAccount(e)}: ${e.reason}`),
  ];
}

/** Terminal text. */
export function renderText(plans: readonly Plan[]): string {
  const out: string[] = [];
  for (const p of plans) {
    out.push(`cluster ${p.alias}/${p.cluster} (account ${p.account}):`);
    if (p.actions.length === 0) {
      out.push(p.skipped.some((k) => REFUSAL_REASONS.includes(k.reason)) ? '  no changes planned, and some refused (below)' : '  no changes: the server matches the YAML');
    }
    for (const a of p.actions) {
      out.push(`  ${SYMBOL[a.kind]} ${headline(a)}`);
      out.push(`      reason: ${a.reason}`);
      for (const d of details(a)) out.push(`      ${d}`);
    }
    for (const line of skippedLines(p)) out.push(`  ${line}`);
    for (const c of p.iamConnect) {
      out.push(`  iam: ${c.user} connects with rds-db:connect on ${c.resource}${c.principals.length ? ` for ${c.principals.join(', ')}` : ''}`);
    }
    out.push('');
  }
  const s = summarise(plans);
  out.push(`Plan: ${s.create} to create, ${s.change} to change, ${s.delete} to delete.`);
  return out.join('\n');
}

/** Markdown for a pull-request comment: the same plan, in a form that renders on review. */
export function renderMarkdown(plans: readonly Plan[], heading = '### dbusers plan'): string {
  const s = summarise(plans);
  const out = [heading, '', `**${s.create} to create, ${s.change} to change, ${s.delete} to delete.**`, ''];
  for (const p of plans) {
    out.push(`#### \`${p.alias}/${p.cluster}\` (account ${p.account})`, '');
    if (p.actions.length === 0) out.push('No changes.', '');
    else {
      out.push('```diff');
      for (const a of p.actions) {
        out.push(`${SYMBOL[a.kind] === '~' ? '!' : SYMBOL[a.kind]} ${headline(a)}  # ${a.reason}`);
        for (const d of details(a)) out.push(`${d[0]}     ${d.slice(2)}`);
      }
      out.push('```', '');
    }
    const notes = skippedLines(p);
    if (notes.length > 0) out.push(...notes.map((n) => `- ${n.trim()}`), '');
  }
  return out.join('\n');
}
