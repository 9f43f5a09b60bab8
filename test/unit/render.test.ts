import { describe, expect, it } from 'vitest';
import type { Plan } from '../../reconciler/src/model/types.js';
import { COMMENT_BUDGET, PLAIN, renderMarkdown, renderText } from '../../reconciler/src/plan/render.js';
import { Progress, refusals } from '../../reconciler/src/cli/report.js';
import { select } from '../support/fixtures.js';

/** A plan of `n` creates on one cluster. */
function bigPlan(cluster: string, n: number): Plan {
  return {
    cluster,
    account: '111122223333',
    alias: 'payments-prod',
    server: 'orders.example:3306',
    exceptions: [],
    iamConnect: [],
    skipped: [
      {
        user: 'legacy',
        host: '%',
        reason: 'over delete limit',
        detail: 'the plan deletes 12 of 14 managed accounts',
      },
    ],
    actions: Array.from({ length: n }, (_, i) => ({
      kind: 'create_user' as const,
      user: `user${i}`,
      host: '%',
      auth: 'password' as const,
      adopt: false,
      secretName: `rds-${cluster}-user${i}-secret`,
      grants: [select('orders')],
      roles: [],
      reason: 'missing',
    })),
  };
}

describe('the pull-request comment', () => {
  const plans = [bigPlan('orders', 4000), bigPlan('audit', 900), bigPlan('small', 100)];

  it.each(Object.entries(COMMENT_BUDGET))(
    'fits %s (%d characters) at 5,000 actions, summary table first',
    (_, budget) => {
      const text = renderMarkdown(plans, { budget });
      expect(text.length).toBeLessThanOrEqual(budget);
      expect(text).toContain('| `payments-prod/orders` | orders.example:3306 | 4000 | 0 | 0 | 1 |');
      expect(text).toContain('**5000 to create, 0 to change, 0 to delete.**');
      expect(text.indexOf('| cluster |')).toBeLessThan(text.indexOf('<details>'));
      expect(text).toContain('the full plan is in the JSON output');
    },
  );

  it('keeps small sections in full and collapses the largest first', () => {
    const text = renderMarkdown(plans, { budget: COMMENT_BUDGET.github });
    expect(text).toContain("+ create user 'user99'@'%'"); // the 100-action cluster, in full
    expect(text).toContain('4000 action(s) and 1 note(s), too many for this comment');
  });

  it('shows everything when it fits', () => {
    const text = renderMarkdown([bigPlan('orders', 3)]);
    expect(text).toContain(
      '<details><summary><code>payments-prod/orders</code> (account 111122223333, orders.example:3306): 3 to create',
    );
    expect(text).toContain("+ create user 'user2'@'%'");
    expect(text).toContain('- ! over delete limit');
  });

  it('shows names from the server as text: no HTML, mention, issue link or code span of their own', () => {
    // Accounts made by hand on the server, left alone by dbusers, and listed in every comment.
    const names = ['<!--', '@org/dbas', '#1', 'a`b', '[x](https://evil.example)', 'c|d'];
    const plan = bigPlan('orders', 1);
    plan.skipped = names.map((user) => ({ user, host: '%', reason: 'unmanaged' as const, detail: '' }));
    const text = renderMarkdown([plan]);
    const leftAlone = text.split('\n').find((l) => l.startsWith('- left alone:'))!;
    expect(leftAlone).toBe(
      "- left alone: '&#60;!--'&#64;'%' (unmanaged), '&#64;org/dbas'&#64;'%' (unmanaged), '&#35;1'&#64;'%' (unmanaged), 'a&#96;b'&#64;'%' (unmanaged), '&#91;x&#93;(https://evil.example)'&#64;'%' (unmanaged), 'c&#124;d'&#64;'%' (unmanaged)",
    );
    expect(text.split('<!-- ')).toHaveLength(1);
  });
});

/**
 * A managed user whose grants drifted by hand onto a table named to break out of the plan: a newline
 * and a code fence (then an HTML comment that would hide the rest from reviewers), and escapes.
 */
function driftedPlan(): Plan {
  const plan = bigPlan('orders', 0);
  const table = 't\n```\n<!-- \u001b[2J';
  plan.actions = [
    {
      kind: 'update_grant',
      user: 'app',
      host: '%',
      accountKind: 'user',
      grants: [],
      roles: [],
      before: { grants: [{ level: 'table', database: 'orders', table, privilege: 'SELECT' }], roles: [] },
      reason: `grants differ: -SELECT on orders.${table}`,
    },
  ] as Plan['actions'];
  return plan;
}

describe('names from the server in actions', () => {
  it('never break a line of the comment: no code fence, HTML comment or newline of their own', () => {
    const text = renderMarkdown([driftedPlan()]);
    expect(text.split('\n').filter((l) => l.startsWith('```'))).toEqual(['```diff', '```']);
    // Inside the code block it is text; outside it, it would hide what follows from reviewers.
    const [before, block, after] = text.split(/^```.*$/m);
    expect(`${before}${after}`).not.toContain('<!--');
    expect(block).toContain('<!--');
    expect(text).toContain('-     SELECT on orders.t\\u000a```\\u000a<!-- \\u001b[2J');
  });

  it('never reach the terminal as escapes or line breaks', () => {
    const text = renderText([driftedPlan()], PLAIN);
    expect(text).not.toMatch(/\u001b/);
    expect(text.split('\n').filter((l) => l.includes('orders.t'))).toEqual([
      '      reason: grants differ: -SELECT on orders.t\\u000a```\\u000a<!-- \\u001b[2J',
      '      - SELECT on orders.t\\u000a```\\u000a<!-- \\u001b[2J',
    ]);
  });
});

describe('apply progress', () => {
  it("shows a failed action's server message as text, never as terminal escapes", () => {
    const lines: string[] = [];
    const progress = new Progress({ out: () => undefined, err: (s) => lines.push(s) });
    progress.start(1);
    progress.tick({
      kind: 'update_grant',
      user: 'app',
      host: '%',
      status: 'failed',
      message: "Table 'app.t\u001b[2J' doesn't exist",
    });
    expect(lines).toEqual([
      "  [1/1] failed: update_grant 'app'@'%' (Table 'app.t\\u001b[2J' doesn't exist)\n",
    ]);
  });
});

describe('terminal text', () => {
  it('names the server, and sums up each cluster and the total', () => {
    const text = renderText([bigPlan('orders', 2), bigPlan('audit', 1)], PLAIN);
    expect(text).toContain('cluster payments-prod/orders (account 111122223333, orders.example:3306):');
    expect(text).toContain('  2 to create, 0 to change, 0 to delete.');
    expect(text.trim().split('\n').at(-1)).toBe('Plan: 3 to create, 0 to change, 0 to delete.');
  });

  it('says how each role is held: with the admin option, not as a default role', () => {
    const plan = bigPlan('orders', 1);
    plan.actions = [
      {
        ...plan.actions[0]!,
        roles: ['reader', 'writer', 'ops'],
        adminRoles: ['ops'],
        nonDefaultRoles: ['ops', 'writer'],
      },
    ] as Plan['actions'];
    const lines = renderText([plan], PLAIN)
      .split('\n')
      .map((l) => l.trim());
    expect(lines).toContain('+ role reader');
    expect(lines).toContain('+ role writer (not a default role)');
    expect(lines).toContain('+ role ops WITH ADMIN OPTION (not a default role)');
  });

  it('prints control characters in names from the server as text, never as terminal escapes', () => {
    const plan = bigPlan('orders', 0);
    plan.skipped = [{ user: 'x\u001b[2J\u001b[1A', host: '%\r', reason: 'unmanaged', detail: '' }];
    const text = renderText([plan], PLAIN);
    expect(text).toContain("left alone: 'x\\u001b[2J\\u001b[1A'@'%\\u000d' (unmanaged)");
    expect(text).not.toMatch(/[\u001b\r]/);
  });
});

describe('refusals', () => {
  it('counts an account dbusers cannot manage as declared (unsupported) as a refusal, with how to proceed', () => {
    const plan = bigPlan('orders', 0);
    plan.skipped = [
      {
        user: 'carol',
        host: '%',
        reason: 'unsupported',
        detail: 'declared auth: iam, but the account logs in with a password',
      },
    ];
    expect(refusals([plan])).toBe(
      "dbusers: refused; these accounts were not changed:\n  unsupported: 1 account(s): 'carol'@'%' (payments-prod/orders)\n    declared auth: iam, but the account logs in with a password\n    to proceed: declare the account as it can be managed (the line above says what dbusers cannot do), or change the account by hand\n",
    );
    expect(renderMarkdown([plan])).toContain(
      '| `payments-prod/orders` | orders.example:3306 | 0 | 0 | 0 | 1 |',
    );
  });
});
