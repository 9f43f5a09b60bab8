import type { AccountId } from './types.js';

/**
 * Values by their account (user, host) with no key string built per lookup: one map entry per user,
 * and a list only for the users on several hosts. Inspection indexes the server's accounts with it;
 * planning, every account the YAML, the server and the registry name.
 */
export class AccountMap<V extends AccountId> {
  private readonly first = new Map<string, V>();
  private readonly otherHosts = new Map<string, V[]>();

  get(user: string, host: string): V | undefined {
    const first = this.first.get(user);
    if (first === undefined || first.host === host) return first;
    return this.otherHosts.get(user)?.find((v) => v.host === host);
  }

  /** A value whose account the map does not hold yet. */
  add(value: V): void {
    if (!this.first.has(value.user)) this.first.set(value.user, value);
    else {
      const others = this.otherHosts.get(value.user);
      if (others) others.push(value);
      else this.otherHosts.set(value.user, [value]);
    }
  }
}
