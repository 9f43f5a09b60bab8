/**
 * The seeded randomness of the random tests: a linear congruential generator, so the same seed gives
 * the same run (each test reads its seed from an environment variable, to reproduce a failure).
 */
export function seeded(seed: number) {
  let state = seed;
  const random = () => {
    state = (state * 1103515245 + 12345) % 2147483648;
    return state / 2147483648;
  };
  return {
    random,
    /** One of `xs`. */
    one: <T>(xs: readonly T[]) => xs[Math.floor(random() * xs.length)]!,
    /** Each of `xs` with probability `p`. */
    some: <T>(xs: readonly T[], p: number) => xs.filter(() => random() < p),
  };
}
