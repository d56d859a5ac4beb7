/** Input checks shared by the stats functions: a bad argument is a programming error, so they throw RangeError. */

export function assertFiniteValues(values: readonly number[]): void {
  const bad = values.findIndex((value) => !Number.isFinite(value));
  if (bad !== -1) throw new RangeError(`differences must be finite numbers; index ${bad} is ${values[bad]}`);
}

export function assertLevel(level: number): void {
  if (!(level > 0 && level < 1)) throw new RangeError(`level must be between 0 and 1 (exclusive), got ${level}`);
}

export function assertPositiveInteger(value: number, name: string): void {
  if (!Number.isSafeInteger(value) || value < 1) throw new RangeError(`${name} must be a positive integer, got ${value}`);
}

export function assertPositive(value: number, name: string): void {
  if (!(value > 0 && Number.isFinite(value))) throw new RangeError(`${name} must be a positive finite number, got ${value}`);
}

export function assertNonNegative(value: number, name: string): void {
  if (!(value >= 0 && Number.isFinite(value))) throw new RangeError(`${name} must be a non-negative finite number, got ${value}`);
}
