/**
 * A long computation written as a generator that yields between chunks of work. It stays a pure
 * function of its inputs: `runSteps` runs it at once, and a server that must keep answering requests
 * runs it with `runStepsYielding`, which hands the event loop back between chunks.
 */
export type Steps<T> = Generator<void, T, void>;

/** Work units (random draws, sums) between two yields: about a millisecond on this project's machines. */
export const STEP_WORK = 200_000;

export function runSteps<T>(steps: Steps<T>): T {
  for (;;) {
    const next = steps.next();
    if (next.done) return next.value;
  }
}

/** Runs the steps, awaiting `pause` whenever `sliceMs` of work has passed since the last pause. */
export async function runStepsYielding<T>(steps: Steps<T>, pause: () => Promise<unknown>, sliceMs = 10): Promise<T> {
  let sliceStart = performance.now();
  for (;;) {
    const next = steps.next();
    if (next.done) return next.value;
    if (performance.now() - sliceStart >= sliceMs) {
      await pause();
      sliceStart = performance.now();
    }
  }
}
