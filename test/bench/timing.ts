/**
 * Medians of several pieces of work, their runs alternating (a, b, a, b, ...) so that each sees the
 * same machine: this one's speed drifts by ±20% between back-to-back medians. With --expose-gc (the
 * npm scripts pass it) every run starts from a collected heap, so none pays for another's garbage.
 */
export async function medians<Works extends (() => Promise<unknown>)[]>(
  works: readonly [...Works],
  { warmup, repeat }: { warmup: number; repeat: number },
): Promise<{ [K in keyof Works]: number }> {
  const runs = works.map((): number[] => []);
  for (let i = 0; i < warmup + repeat; i++) {
    for (const [k, work] of works.entries()) {
      globalThis.gc?.();
      const start = performance.now();
      await work();
      if (i >= warmup) runs[k]!.push(performance.now() - start);
    }
  }
  return runs.map((xs) => xs.sort((x, y) => x - y)[Math.floor(xs.length / 2)]!) as {
    [K in keyof Works]: number;
  };
}
