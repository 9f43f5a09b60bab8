/**
 * Who may grant a role. Granting or revoking a role, or its admin option, takes the ADMIN OPTION on
 * that role, held by the account itself or through a role it holds; MySQL also lets ROLE_ADMIN (or
 * SUPER) grant any role. MariaDB gives a role's creator the ADMIN OPTION, MySQL does not; ALL
 * PRIVILEGES stands in for neither. So an account adopted with a role someone else made, an adopted
 * role granted on, or any role on RDS for MySQL before 8.0.36 (whose master has no ROLE_ADMIN)
 * would fail half-way through an apply, every time: the plan says so and the executor refuses.
 */
import { displayAccount, NO_NAMES, type ActualAccount, type ActualState } from './types.js';

/** An account's role memberships, as declared, as an action sends them, or as the server holds them. */
interface Memberships {
  roles: readonly string[];
  adminRoles?: readonly string[];
}

/** The roles a change grants, revokes, or whose admin option it turns on or off. */
export function touchedRoles(want: Memberships, have: Memberships | undefined): string[] {
  const held = have?.roles ?? NO_NAMES;
  const heldAdmin = have?.adminRoles ?? NO_NAMES;
  const wantAdmin = want.adminRoles ?? NO_NAMES;
  const touched = want.roles.filter(
    (r) => !held.includes(r) || wantAdmin.includes(r) !== heldAdmin.includes(r),
  );
  for (const r of held) if (!want.roles.includes(r)) touched.push(r);
  return touched;
}

/** Privileges that let a MySQL account grant any role. */
const GRANTS_ANY_ROLE = new Set(['ROLE_ADMIN', 'SUPER']);

/**
 * Whether the connected account may grant and revoke a role; `made` tells the roles the same run
 * creates (their creator administers them on MariaDB). Every role where nothing limits it: MySQL's
 * ROLE_ADMIN, or a server read without the connected account.
 */
export function roleGrantor(actual: ActualState, made: (role: string) => boolean): (role: string) => boolean {
  const { user, host } = actual.currentUser;
  const self = actual.accounts.find((a) => a.user === user && a.host === host);
  if (!self) return () => true;
  const mariadb = actual.engine === 'mariadb';
  const roles = new Map<string, ActualAccount>();
  for (const a of actual.accounts) if (a.kind === 'role') roles.set(a.user, a);
  const administered = new Set<string>();
  let any = false;
  const reached = new Set<string>();
  const visit = (a: ActualAccount) => {
    for (const r of a.adminRoles ?? NO_NAMES) administered.add(r);
    if (!mariadb && a.grants.some((g) => g.level === 'global' && GRANTS_ANY_ROLE.has(g.privilege)))
      any = true;
    for (const r of a.roles) {
      const role = roles.get(r);
      if (role && !reached.has(r)) {
        reached.add(r);
        visit(role);
      }
    }
  };
  visit(self);
  if (any) return () => true;
  return mariadb ? (r) => administered.has(r) || made(r) : (r) => administered.has(r);
}

/** Why the connected account cannot make a change to roles, or undefined when it can. */
export function rolesOutOfReach(
  touched: readonly string[],
  mayGrant: (role: string) => boolean,
  actual: ActualState,
): string | undefined {
  const out = touched.filter((r) => !mayGrant(r));
  if (out.length === 0) return undefined;
  const self = displayAccount(actual.currentUser);
  const them = out.length > 1 ? 'them' : 'it';
  if (actual.engine === 'mariadb')
    return `${self}, the account dbusers connects as, does not hold role ${out.join(', ')} WITH ADMIN OPTION, which MariaDB requires to grant or revoke ${them}: have an account that holds ${them} so run GRANT ${out.join(', ')} TO ${self} WITH ADMIN OPTION, or make this change by hand`;
  return `${self}, the account dbusers connects as, holds neither ROLE_ADMIN nor role ${out.join(', ')} WITH ADMIN OPTION, one of which MySQL requires to grant or revoke ${them} (on RDS and Aurora the master user has ROLE_ADMIN from MySQL 8.0.36 and Aurora MySQL 3): grant it ROLE_ADMIN, or make this change by hand`;
}
