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
    else this.addOtherHost(value);
  }

  /**
   * The value held for an account, or the one `make` gives it, now held: one lookup of the user
   * where a separate get and add take two. `make` is called only when the map holds none.
   */
  getOrAdd<A extends AccountId>(a: A, make: (a: A) => V): V {
    const first = this.first.get(a.user);
    if (first === undefined) {
      const value = make(a);
      this.first.set(a.user, value);
      return value;
    }
    if (first.host === a.host) return first;
    const other = this.otherHosts.get(a.user)?.find((v) => v.host === a.host);
    if (other !== undefined) return other;
    const value = make(a);
    this.addOtherHost(value);
    return value;
  }

  private addOtherHost(value: V): void {
    const others = this.otherHosts.get(value.user);
    if (others) others.push(value);
    else this.otherHosts.set(value.user, [value]);
  }
}
