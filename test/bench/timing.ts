/**
 * Medians of several pieces of work, their runs alternating (a, b, a, b, ...) so that each sees the
 * same machine: this one's speed drifts by ±20% between back-to-back medians. Each timed run comes
 * right after an untimed run of the same work and, with --expose-gc (the npm scripts pass it),
 * starts from an empty young generation: a run pays for the garbage of its own kind of work, never
 * for another's (what a heavy run leaves in the old generation is collected during whatever runs
 * next). A minor collection, not a full one: a full collection frees the hidden classes of the rows
 * just read and V8 deoptimises every function compiled against them (mysql2's row parser and ours
 * alike), so each run would measure recompiling, not the code.
 */
export async function medians<Works extends (() => Promise<unknown>)[]>(
  works: readonly [...Works],
  { warmup, repeat }: { warmup: number; repeat: number },
): Promise<{ [K in keyof Works]: number }> {
  const collect = globalThis.gc as ((options: { type: 'minor' }) => void) | undefined;
  const runs = works.map((): number[] => []);
  for (let i = 0; i < warmup + repeat; i++) {
    for (const [k, work] of works.entries()) {
      await work();
      collect?.({ type: 'minor' });
      const start = performance.now();
      await work();
      if (i >= warmup) runs[k]!.push(performance.now() - start);
    }
  }
  return runs.map((xs) => xs.sort((x, y) => x - y)[Math.floor(xs.length / 2)]!) as {
    [K in keyof Works]: number;
  };
}
