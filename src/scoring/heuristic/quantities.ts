import { type Token, WORD_NUMBERS, contentStemsOf, isContent } from './tokens.js';

/** A number with its unit, e.g. "3 to 5 business days" -> hours 72..168, so that "a week" and "7 days" compare. */
export interface Quantity {
  low: number;
  high: number;
  unit: string;
  text: string;
  /** Content stems near the number, used to tell whether two numbers talk about the same thing. */
  context: ReadonlySet<string>;
  /** Index of the sentence it was found in. */
  sentence: number;
}

interface UnitScale {
  unit: string;
  /** How many base units one of these is at least and at most ("a month" is 28 to 31 days). */
  low: number;
  high: number;
}

const unit = (name: string, low = 1, high = low): UnitScale => ({ unit: name, low, high });
const HOUR = 'hour';
// Time windows are compared in hours so that "2 weeks" contradicts "30 days" and "48 hours" agrees with
// "2 days"; a business day is a calendar day to 7/5 of one, so "5 business days" agrees with "a week".
// Sizes are not converted: "1 TB" vs "1000 GB" is rare in support answers and conversion hides real errors.
const UNITS: Record<string, UnitScale> = {
  'business days': unit(HOUR, 24, 33.6), 'business day': unit(HOUR, 24, 33.6), 'working days': unit(HOUR, 24, 33.6),
  'calendar days': unit(HOUR, 24), days: unit(HOUR, 24), day: unit(HOUR, 24),
  weeks: unit(HOUR, 168), week: unit(HOUR, 168), fortnights: unit(HOUR, 336), fortnight: unit(HOUR, 336), months: unit(HOUR, 672, 744), month: unit(HOUR, 672, 744),
  years: unit(HOUR, 8760, 8784), year: unit(HOUR, 8760, 8784),
  hours: unit(HOUR), hour: unit(HOUR), hrs: unit(HOUR), hr: unit(HOUR),
  minutes: unit(HOUR, 1 / 60), minute: unit(HOUR, 1 / 60), mins: unit(HOUR, 1 / 60), min: unit(HOUR, 1 / 60),
  // Seconds stay a unit of their own: "hold for 5 seconds" is an instruction, never a window to compare with hours.
  seconds: unit('second'), second: unit('second'), secs: unit('second'), sec: unit('second'),
  watts: unit('w'), watt: unit('w'), w: unit('w'), kw: unit('kw'), wh: unit('wh'), mah: unit('mah'),
  volts: unit('v'), volt: unit('v'), v: unit('v'), amps: unit('a'), amp: unit('a'), ma: unit('ma'),
  hz: unit('hz'), khz: unit('khz'), mhz: unit('mhz'), ghz: unit('ghz'), kb: unit('kb'), mb: unit('mb'), gb: unit('gb'), tb: unit('tb'),
  mbps: unit('mbps'), gbps: unit('gbps'), inches: unit('inch'), inch: unit('inch'), feet: unit('ft'), foot: unit('ft'), ft: unit('ft'),
  cm: unit('cm'), mm: unit('mm'), lbs: unit('lb'), lb: unit('lb'), pounds: unit('lb'), kg: unit('kg'),
  percent: unit('%'), '%': unit('%'), dollars: unit('usd'), usd: unit('usd'),
};

const NUMBER = `\\d{1,3}(?:,\\d{3})+|\\d+(?:\\.\\d+)?|${Object.keys(WORD_NUMBERS).join('|')}`;
const UNIT_NAMES = Object.keys(UNITS)
  .sort((a, b) => b.length - a.length)
  .join('|');
const QUANTITY_PATTERN = new RegExp(`(?<![\\w.])(${NUMBER})(?:\\s*(?:-|–|—|to|and)\\s*(${NUMBER}))?[\\s-]?(${UNIT_NAMES})(?![a-z])`, 'gi');
/** "within a month", "a week", "a fortnight": one of a time unit, which paraphrases "30 days" or "7 days". */
const ONE_TIME_UNIT = /(?<![\w.])an? (day|week|fortnight|month|year|hour)(?![a-z-])/gi;
const PRICE_PATTERN = /\$\s?(\d{1,3}(?:,\d{3})+|\d+(?:\.\d+)?)/g;
const CONTEXT_RADIUS = 5;

const toNumber = (raw: string) => WORD_NUMBERS[raw] ?? Number(raw.replaceAll(',', ''));

/** The index of the first token that starts at or after `offset` (tokens are in text order). */
function firstTokenFrom(tokens: readonly Token[], offset: number): number {
  let low = 0;
  let high = tokens.length;
  while (low < high) {
    const middle = (low + high) >>> 1;
    if ((tokens[middle] as Token).start < offset) low = middle + 1;
    else high = middle;
  }
  return low;
}

/** The numbers with units a sentence states; `normalized` is the sentence as normalizeText gives it, `tokens` its tokens. */
export function quantitiesOf(normalized: string, tokens: readonly Token[], sentenceIndex: number): Quantity[] {
  const quantities: Quantity[] = [];
  // Content stems in token order, and how many come before each token: a quantity's context is then a
  // binary search and a slice, so a sentence of q quantities and t tokens costs O(t + q log t), not O(q t).
  const stems = contentStemsOf(tokens);
  const stemsBefore: number[] = [];
  let seen = 0;
  for (const token of tokens) {
    stemsBefore.push(seen);
    if (isContent(token)) seen += 1;
  }
  stemsBefore.push(seen);
  const found = (index: number, text: string, low: number, high: number, scale: UnitScale) => {
    const end = index + text.length;
    const beforeCount = stemsBefore[firstTokenFrom(tokens, index)] as number;
    const afterFrom = stemsBefore[firstTokenFrom(tokens, end)] as number;
    const before = stems.slice(Math.max(0, beforeCount - CONTEXT_RADIUS), beforeCount);
    const after = stems.slice(afterFrom, afterFrom + CONTEXT_RADIUS);
    const from = Math.min(low, high);
    const to = Math.max(low, high);
    quantities.push({ low: from * scale.low, high: to * scale.high, unit: scale.unit, text, context: new Set([...before, ...after]), sentence: sentenceIndex });
  };
  for (const match of normalized.matchAll(QUANTITY_PATTERN)) {
    const [text, first, second, unitName] = match as unknown as [string, string, string | undefined, string];
    const low = toNumber(first);
    found(match.index, text, low, second === undefined ? low : toNumber(second), UNITS[unitName] as UnitScale);
  }
  for (const match of normalized.matchAll(ONE_TIME_UNIT)) {
    found(match.index, match[0], 1, 1, UNITS[match[1] as string] as UnitScale);
  }
  for (const match of normalized.matchAll(PRICE_PATTERN)) {
    const amount = toNumber(match[1] as string);
    found(match.index, match[0], amount, amount, unit('usd'));
  }
  return quantities;
}

/** A text's quantities by unit, sorted by `low`, with the running maximum of `high`: answers "does any overlap?" in O(log q). */
interface QuantityIndex {
  byUnit: ReadonlyMap<string, { lows: number[]; maxHighs: number[] }>;
}

const INDEXES = new WeakMap<readonly Quantity[], QuantityIndex>();

function indexOf(quantities: readonly Quantity[]): QuantityIndex {
  let index = INDEXES.get(quantities);
  if (index) return index;
  const groups = new Map<string, Quantity[]>();
  for (const quantity of quantities) {
    const group = groups.get(quantity.unit) ?? [];
    group.push(quantity);
    groups.set(quantity.unit, group);
  }
  const byUnit = new Map<string, { lows: number[]; maxHighs: number[] }>();
  for (const [unitName, group] of groups) {
    group.sort((a, b) => a.low - b.low);
    let maxHigh = -Infinity;
    byUnit.set(unitName, {
      lows: group.map((quantity) => quantity.low),
      maxHighs: group.map((quantity) => (maxHigh = Math.max(maxHigh, quantity.high))),
    });
  }
  index = { byUnit };
  INDEXES.set(quantities, index);
  return index;
}

/**
 * Whether any of `quantities` agrees with `quantity`: two quantities agree when they share a unit and
 * their ranges meet ("3 to 5 business days" and "a week"). O(log q) after an O(q log q) index per list.
 */
export function overlapsAny(quantities: readonly Quantity[], quantity: Quantity): boolean {
  const group = indexOf(quantities).byUnit.get(quantity.unit);
  if (!group) return false;
  // The last quantity with low <= quantity.high; among those, one reaches quantity.low when the running maximum of high does.
  let low = 0;
  let high = group.lows.length;
  while (low < high) {
    const middle = (low + high) >>> 1;
    if ((group.lows[middle] as number) <= quantity.high) low = middle + 1;
    else high = middle;
  }
  return low > 0 && (group.maxHighs[low - 1] as number) >= quantity.low;
}
