/**
 * Every identifier and literal dbusers sends is escaped here and nowhere else. Account statements
 * cannot use server-side placeholders (CREATE USER ?@? fails at PREPARE), so values are quoted on
 * the client. Connections set a sql_mode without NO_BACKSLASH_ESCAPES, which these rules assume.
 */

/** A string literal: backslash-escaped, as MySQL and MariaDB read it by default. */
export function quoteString(value: string): string {
  return `'${value.replace(/[\\'\0\n\r\x1a]/g, (c) => ESCAPES[c] ?? c)}'`;
}

const ESCAPES: Record<string, string> = {
  '\\': '\\\\',
  "'": "\\'",
  '\0': '\\0',
  '\n': '\\n',
  '\r': '\\r',
  '\x1a': '\\Z',
};

/** A single identifier (database, table, column, routine): backticks, a backtick doubled. */
export function quoteIdent(name: string): string {
  return '`' + name.replace(/`/g, '``') + '`';
}

/**
 * A database name in `GRANT … ON db.*`, where `_` and `%` are wildcards and `\` escapes: escape
 * all three so the grant means exactly this database (`app_db` must not match `appxdb`).
 */
export function quoteDatabasePattern(name: string): string {
  return quoteIdent(name.replace(/[\\_%]/g, '\\$&'));
}

/**
 * Read a database name as `mysql.db.Db` stores it: `\x` is a literal x; an unescaped `_` or `%`
 * makes it a wildcard pattern, returned as `pattern` so it can be revoked exactly as stored.
 */
export function decodeDatabasePattern(stored: string): { database: string; pattern?: string } {
  if (!/[\\_%]/.test(stored)) return { database: stored };
  let literal = '';
  for (let i = 0; i < stored.length; i++) {
    const c = stored[i]!;
    if (c === '\\' && i + 1 < stored.length) {
      literal += stored[++i];
    } else if (c === '_' || c === '%') {
      return { database: stored, pattern: stored };
    } else {
      literal += c;
    }
  }
  return { database: literal };
}

/** 'user'@'host' as a statement names an account. */
export function quoteAccount(user: string, host: string): string {
  return `${quoteString(user)}@${quoteString(host)}`;
}
