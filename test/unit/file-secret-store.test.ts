import { describe, expect, it, vi } from 'vitest';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  FileSecretStore,
  generatePassword,
  PASSWORD_KINDS,
} from '../../reconciler/src/adapters/local/file-secret-store.js';
import { SecretFormatError } from '../../reconciler/src/ports/index.js';
import { tempDir } from '../support/server.js';

const credentials = (username: string) => ({
  engine: 'mariadb',
  host: 'h',
  port: 3306,
  username,
  password: `pw-${username}`,
});

describe('generatePassword', () => {
  it('makes 32 characters of letters, digits and - . _, with each kind a password validation plugin asks for', () => {
    const passwords = Array.from({ length: 2000 }, () => generatePassword());
    for (const p of passwords) {
      expect(p).toMatch(/^[A-Za-z0-9._-]{32}$/);
      expect(PASSWORD_KINDS.filter((kind) => !kind.test(p))).toEqual([]);
    }
    // Every character of the alphabet turns up: none is left out by the rejection sampling.
    expect(new Set(passwords.join('')).size).toBe(65);
  });
});

describe('FileSecretStore.readMany', () => {
  it('reads each file once: metadata of the names asked, current values of the others asked, deleted and missing ones left out', async () => {
    const clock = () => new Date('2026-12-01T00:00:00Z');
    const store = new FileSecretStore(tempDir(), clock);
    for (const name of ['a', 'b', 'gone', 'pending-only']) {
      await store.ensure({ name, description: 'd', tags: { 'managed-by': 'dbusers' } });
      await store.putPending(name, credentials(name));
      if (name !== 'pending-only') await store.promotePending(name);
    }
    await store.scheduleDeletion('gone', 7);
    const read = vi.spyOn(store, 'read');
    const { metas, values } = await store.readMany(
      ['a', 'gone', 'pending-only', 'missing'],
      ['a', 'b', 'gone'],
    );
    expect(read.mock.calls.map((c) => c[0]).sort()).toEqual(['a', 'b', 'gone', 'missing', 'pending-only']);
    expect(metas).toEqual({
      a: {
        name: 'a',
        tags: { 'managed-by': 'dbusers' },
        changedAt: Date.parse('2026-12-01T00:00:00Z') / 1000,
        hasCurrent: true,
        hasPending: false,
        rotationEnabled: false,
        deleted: false,
      },
      gone: expect.objectContaining({ hasCurrent: true, deleted: true }),
      'pending-only': expect.objectContaining({ hasCurrent: false, hasPending: true, changedAt: undefined }),
    });
    expect(values).toEqual({ a: credentials('a'), b: credentials('b') });
  });
});

describe('FileSecretStore.read', () => {
  it('refuses a secret file that is not JSON without quoting it: the password may be in it', async () => {
    const dir = tempDir();
    const store = new FileSecretStore(dir);
    await store.ensure({ name: 'a', description: 'd', tags: {} });
    await store.putPending('a', credentials('a'));
    // A hand edit that broke the file, right where the password is.
    const file = join(dir, 'a.json');
    writeFileSync(file, readFileSync(file, 'utf8').replace('"pw-a"', 'pw-a'));
    expect(() => store.read('a')).toThrow(
      new SecretFormatError('secret a does not hold valid JSON; its value is not shown'),
    );
  });
});
