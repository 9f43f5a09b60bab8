/** The plan as a person reads it: terminal text like `terraform plan`, or a Markdown PR comment. Pure. */
import { describeGrant, diffGrants, diffNames } from '../model/grants.js';
import type { BatchResult } from '../model/batch.js';
import {
  displayAccount,
  PROTECTED_ACCOUNT,
  REFUSAL_REASONS,
  targetName,
  visible,
  type Action,
  type Plan,
  type Skipped,
} from '../model/types.js';

const SYMBOL: Record<Action['kind'], string> = {
  create_role: '+',
  create_user: '+',
  update_grant: '~',
  reset_password: '~',
  delete_user: '-',
  drop_role: '-',
};

/**
 * An action's first line. Names in an action may come from the server (grants made by hand on a
 * table named with a newline or an escape sequence): headline, reason and details go through
 * `visible`, so no line is broken or rewritten, in a terminal or in a comment's code block.
 */
function headline(a: Action): string {
  return visible(title(a));
}

function title(a: Action): string {
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

/** A role granted, with how it is held. */
function roleAdded(a: { adminRoles?: string[]; nonDefaultRoles?: string[] }, role: string): string {
  const admin = a.adminRoles?.includes(role) ? ' WITH ADMIN OPTION' : '';
  return `+ role ${role}${admin}${a.nonDefaultRoles?.includes(role) ? ' (not a default role)' : ''}`;
}

/** The grant and role lines under an action, each with its own symbol. */
function details(a: Action): string[] {
  return lines(a).map(visible);
}

function lines(a: Action): string[] {
  if (a.kind === 'create_role' || a.kind === 'create_user') {
    return [...a.grants.map((g) => `+ ${describeGrant(g)}`), ...a.roles.map((r) => roleAdded(a, r))];
  }
  if (a.kind === 'update_grant') {
    const g = diffGrants(a.grants, a.before.grants);
    const r = diffNames(a.roles, a.before.roles);
    return [
      ...g.add.map((x) => `+ ${describeGrant(x)}`),
      ...g.remove.map((x) => `- ${describeGrant(x)}`),
      ...r.add.map((x) => roleAdded(a, x)),
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
export function summariseDone(results: readonly BatchResult[]): {
  create: number;
  change: number;
  delete: number;
} {
  return count(results.flatMap((r) => r.results.filter((x) => x.status === 'ok')));
}

function count(actions: readonly { kind: Action['kind'] }[]): {
  create: number;
  change: number;
  delete: number;
} {
  return {
    create: actions.filter((a) => SYMBOL[a.kind] === '+').length,
    change: actions.filter((a) => SYMBOL[a.kind] === '~').length,
    delete: actions.filter((a) => SYMBOL[a.kind] === '-').length,
  };
}

/** What a plan leaves alone or refuses, one line each; names from the server are shown, never run. */
function skippedLines(p: Plan): string[] {
  const leftAlone = (s: Skipped) =>
    s.reason === 'unmanaged' || (s.reason === 'protected' && s.detail === PROTECTED_ACCOUNT);
  const unmanaged = p.skipped.filter(leftAlone);
  const notable = p.skipped.filter((s) => !leftAlone(s));
  return [
    ...notable.map((s) => `! ${s.reason}: ${displayAccount(s)}: ${s.detail}`),
    ...(unmanaged.length > 0
      ? [`  left alone: ${unmanaged.map((s) => `${displayAccount(s)} (${s.reason})`).join(', ')}`]
      : []),
    ...p.exceptions.map((e) => `! privilege exception: ${e.grant} for ${displayAccount(e)}: ${e.reason}`),
  ].map(visible);
}

/** Colours for the terminal; plain text does nothing. */
export interface Paint {
  add(s: string): string;
  change(s: string): string;
  remove(s: string): string;
  warn(s: string): string;
  bold(s: string): string;
}
const plain = (s: string) => s;
export const PLAIN: Paint = { add: plain, change: plain, remove: plain, warn: plain, bold: plain };

function counts(c: { create: number; change: number; delete: number }): string {
  return `${c.create} to create, ${c.change} to change, ${c.delete} to delete`;
}

function where(p: Plan): string {
  return `account ${p.account}${p.server ? `, ${p.server}` : ''}`;
}

/** Terminal text, like `terraform plan`: per cluster its server, actions, refusals and a summary line, then the total. */
export function renderText(plans: readonly Plan[], paint: Paint = PLAIN): string {
  const colour = { '+': paint.add, '~': paint.change, '-': paint.remove } as Record<
    string,
    (s: string) => string
  >;
  const out: string[] = [];
  for (const p of plans) {
    out.push(paint.bold(`cluster ${targetName(p)} (${where(p)}):`));
    if (p.actions.length === 0) {
      out.push(
        p.skipped.some((k) => REFUSAL_REASONS.includes(k.reason))
          ? '  no changes planned, and some refused (below)'
          : '  no changes: the server matches the YAML',
      );
    }
    for (const a of p.actions) {
      out.push(colour[SYMBOL[a.kind]]!(`  ${SYMBOL[a.kind]} ${headline(a)}`));
      out.push(`      reason: ${visible(a.reason)}`);
      for (const d of details(a)) out.push(colour[d[0]!]!(`      ${d}`));
    }
    for (const line of skippedLines(p))
      out.push(line.startsWith('!') ? paint.warn(`  ${line}`) : `  ${line}`);
    for (const c of p.iamConnect) {
      out.push(
        `  iam: ${c.user} connects with rds-db:connect on ${c.resource}${c.principals.length ? ` for ${c.principals.join(', ')}` : ''}`,
      );
    }
    if (plans.length > 1) out.push(`  ${counts(summarise([p]))}.`);
    out.push('');
  }
  out.push(paint.bold(`Plan: ${counts(summarise(plans))}.`));
  return out.join('\n');
}

/**
 * Text from the YAML, a server or a file name, as Markdown shows it and does nothing else: one line,
 * no HTML (an account named `<!--` would hide the rest of the comment from its reviewers), no
 * mention or issue reference, link, code span or table cell. Each such character becomes its HTML
 * entity, which renders as the character itself.
 */
export function markdownText(s: string): string {
  return s.replace(/[\r\n]+/g, ' ').replace(/[&<>@#\\`[\]|]/g, (c) => `&#${c.charCodeAt(0)};`);
}

/** How much a pull-request comment may hold: CodeCommit 10,240 characters, GitHub 65,536. */
export const COMMENT_BUDGET = { codecommit: 10_240, github: 65_536 } as const;

/**
 * Markdown for a pull-request comment: a summary table first, then each cluster's plan folded in
 * `<details>`. Past the budget, the largest sections collapse to their counts (the full plan is in
 * the JSON output), so the comment always fits.
 */
export function renderMarkdown(
  plans: readonly Plan[],
  options: { heading?: string; budget?: number } = {},
): string {
  const heading = options.heading ?? '### dbusers plan';
  const budget = options.budget ?? COMMENT_BUDGET.github;
  const table = [
    '| cluster | server | create | change | delete | refused |',
    '| --- | --- | ---: | ---: | ---: | ---: |',
    ...plans.map((p) => {
      const c = summarise([p]);
      const refused = p.skipped.filter((k) => REFUSAL_REASONS.includes(k.reason)).length;
      return `| \`${targetName(p)}\` | ${markdownText(p.server ?? '')} | ${c.create} | ${c.change} | ${c.delete} | ${refused} |`;
    }),
  ];
  const head = [heading, '', `**${counts(summarise(plans))}.**`, '', ...table, ''];
  const sections = plans.map((p) => markdownSection(p));
  const size = () => [...head, ...sections].join('\n').length;
  // Collapse the largest sections first until the comment fits.
  const order = sections.map((s, i) => ({ i, length: s.length })).sort((a, b) => b.length - a.length);
  for (const { i } of order) {
    if (size() <= budget) break;
    sections[i] = markdownSection(plans[i]!, true);
  }
  const text = [...head, ...sections].join('\n');
  return text.length <= budget
    ? text
    : `${head.join('\n').slice(0, budget - 80)}\n\n_(truncated: the full plan is in the JSON output)_`;
}

function markdownSection(p: Plan, collapsed = false): string {
  const c = summarise([p]);
  const out = [
    `<details><summary><code>${targetName(p)}</code> (${markdownText(where(p))}): ${counts(c)}</summary>`,
    '',
  ];
  if (collapsed)
    out.push(
      `${p.actions.length} action(s) and ${p.skipped.length} note(s), too many for this comment: the full plan is in the JSON output (\`dbusers plan --json\`).`,
      '',
    );
  else {
    if (p.actions.length === 0) out.push('No changes.', '');
    else {
      out.push('```diff');
      for (const a of p.actions) {
        out.push(`${SYMBOL[a.kind] === '~' ? '!' : SYMBOL[a.kind]} ${headline(a)}  # ${visible(a.reason)}`);
        for (const d of details(a)) out.push(`${d[0]}     ${d.slice(2)}`);
      }
      out.push('```', '');
    }
    const notes = skippedLines(p);
    if (notes.length > 0) out.push(...notes.map((n) => `- ${markdownText(n.trim())}`), '');
  }
  out.push('</details>', '');
  return out.join('\n');
}
