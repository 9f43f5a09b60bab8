import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  decodeDatabasePattern,
  quoteAccount,
  quoteDatabasePattern,
  quoteIdent,
  quoteString,
} from '../../reconciler/src/sql/escape.js';

describe('escaping', () => {
  it.each([
    ["o'brien", "'o\\'brien'"],
    ['back\\slash', "'back\\\\slash'"],
    ['per%cent_', "'per%cent_'"],
    ['nul\0line\n', "'nul\\0line\\n'"],
  ])('quotes the string %j', (raw, quoted) => expect(quoteString(raw)).toBe(quoted));

  it('quotes identifiers with backticks doubled and never splits on dots', () => {
    expect(quoteIdent('my.db')).toBe('`my.db`');
    expect(quoteIdent('we`ird')).toBe('`we``ird`');
  });

  it('escapes database-level wildcards and backslashes', () => {
    expect(quoteDatabasePattern('app_db')).toBe('`app\\_db`');
    expect(quoteDatabasePattern('50%\\off')).toBe('`50\\%\\\\off`');
  });

  it('quotes accounts', () => expect(quoteAccount("a'b", '10.0.%')).toBe("'a\\'b'@'10.0.%'"));

  it('decodes what it escapes, for any name', () => {
    fc.assert(
      fc.property(fc.string(), (name) => {
        const stored = quoteDatabasePattern(name).slice(1, -1).replace(/``/g, '`');
        expect(decodeDatabasePattern(stored)).toEqual({ database: name });
      }),
    );
  });

  it('reports an unescaped wildcard as a pattern', () => {
    expect(decodeDatabasePattern('app_db')).toEqual({ database: 'app_db', pattern: 'app_db' });
    expect(decodeDatabasePattern('test\\_%')).toEqual({ database: 'test\\_%', pattern: 'test\\_%' });
  });
});
