/**
 * Every field of an action checked for the engine before it can reach a statement: names, hosts as
 * the server stores them, identifiers, privileges from the engine's list for the grant's level,
 * secret names. The event schema has checked the shapes; this checks the values.
 */
import type { Dialect } from '../dialect/index.js';
import {
  hostProblem,
  identifierProblem,
  literalDatabaseProblem,
  nameProblem,
  normaliseHost,
  routineGrantProblem,
  SECRET_NAME,
} from '../model/names.js';
import { grantNames } from '../model/grants.js';
import type { Action, Grant } from '../model/types.js';

/**
 * What is wrong with one action's values; empty when nothing is. Before the server is read its
 * flavour is only declared, so a role's host ('' on MariaDB, '%' on MySQL) is checked only once known.
 */
export function actionProblems(a: Action, dialect: Dialect, serverKnown = true): string[] {
  const problems: string[] = [];
  const note = (p: string | undefined) => p && problems.push(p);
  note(nameProblem(a.user, dialect.maxUserLength));
  const isRole =
    a.kind === 'create_role' ||
    a.kind === 'drop_role' ||
    (a.kind === 'update_grant' && a.accountKind === 'role');
  if (isRole) {
    if (serverKnown ? a.host !== dialect.roleHost : a.host !== '' && a.host !== '%')
      problems.push(
        `a role's host is ${JSON.stringify(dialect.roleHost)} on ${dialect.name}, got ${JSON.stringify(a.host)}`,
      );
  } else {
    note(hostProblem(a.host, dialect.maxHostLength));
    if (a.host !== normaliseHost(a.host))
      problems.push(
        `host ${JSON.stringify(a.host)} is stored as ${JSON.stringify(normaliseHost(a.host))}; send it that way`,
      );
  }
  if ('grants' in a)
    for (const g of a.grants) {
      problems.push(...grantProblems(g, dialect));
      if (g.level === 'routine' && dialect.asciiRoutineGrants)
        note(routineGrantProblem(a.user, g.database, g.routine));
    }
  if ('roles' in a) {
    if (!dialect.supportsRoles && a.roles.length > 0) problems.push(`${dialect.name} has no roles`);
    for (const r of a.roles) note(nameProblem(r, dialect.maxUserLength));
    const roles = a.roles;
    const notGranted = (what: string, names: readonly string[] = []) => {
      const stray = names.filter((r) => !roles.includes(r));
      if (stray.length > 0) problems.push(`${what} not granted: ${stray.join(', ')}`);
    };
    notGranted('admin option on roles', a.adminRoles);
    notGranted('non-default roles', 'nonDefaultRoles' in a ? a.nonDefaultRoles : undefined);
  }
  const secretName = 'secretName' in a ? a.secretName : undefined;
  if (secretName !== undefined && !SECRET_NAME.test(secretName))
    problems.push(`secret name ${JSON.stringify(secretName)} is not a valid secret name`);
  if (a.kind === 'create_user' && a.auth === 'password' && secretName === undefined)
    problems.push('a password user needs a secretName');
  if (a.kind === 'create_user' && a.auth === 'none')
    problems.push('a user authenticates with a password or IAM');
  // The registry would record the secret as holding the password of a user that has none there.
  if (a.kind === 'create_user' && a.auth === 'iam' && secretName !== undefined)
    problems.push('an IAM user has no secret: send no secretName');
  return problems;
}

/** What is wrong with one grant's values for this engine. */
function grantProblems(g: Grant, dialect: Dialect): string[] {
  const problems: string[] = [];
  const allowed = dialect.privileges[g.level];
  if (!allowed || (!allowed.includes(g.privilege) && g.privilege !== 'GRANT OPTION')) {
    problems.push(`${JSON.stringify(g.privilege)} is not a ${g.level}-level privilege on ${dialect.name}`);
  }
  for (const n of grantNames(g)) {
    const p = identifierProblem(n);
    if (p) problems.push(p);
  }
  const literal = g.level === 'database' && g.pattern === undefined && literalDatabaseProblem(g.database);
  if (literal) problems.push(literal);
  return problems;
}
