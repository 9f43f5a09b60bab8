/**
 * Who may grant a role. MariaDB lets an account grant or revoke a role, or change its admin option,
 * only when it holds that role WITH ADMIN OPTION, itself or through a role it holds (a role's creator
 * holds it so); ALL PRIVILEGES does not stand in for it. An account adopted with a role someone
 * else made, or an adopted role granted on, would fail half-way through an apply, every time. MySQL
 * lets ROLE_ADMIN grant any role, and the RDS and Aurora masters hold it, so no limit is known there.
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

/**
 * The roles the connected account may grant and revoke on MariaDB; undefined where no limit is known
 * (MySQL, or a server read without that account).
 */
export function administeredRoles(actual: ActualState): Set<string> | undefined {
  if (actual.engine !== 'mariadb') return undefined;
  const { user, host } = actual.currentUser;
  const self = actual.accounts.find((a) => a.user === user && a.host === host);
  if (!self) return undefined;
  const roles = new Map<string, ActualAccount>();
  for (const a of actual.accounts) if (a.kind === 'role') roles.set(a.user, a);
  const administered = new Set<string>();
  const reached = new Set<string>();
  const visit = (a: ActualAccount) => {
    for (const r of a.adminRoles ?? NO_NAMES) administered.add(r);
    for (const r of a.roles) {
      const role = roles.get(r);
      if (role && !reached.has(r)) reached.add(r), visit(role);
    }
  };
  visit(self);
  return administered;
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
  return `${self}, the account dbusers connects as, does not hold role ${out.join(', ')} WITH ADMIN OPTION, which MariaDB requires to grant or revoke ${out.length > 1 ? 'them' : 'it'}: have an account that holds ${out.length > 1 ? 'them' : 'it'} so run GRANT ${out.join(', ')} TO ${self} WITH ADMIN OPTION, or make this change by hand`;
}
