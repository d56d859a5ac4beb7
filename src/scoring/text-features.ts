/** A number with its unit, e.g. "3 to 5 business days" → { low: 3, high: 5, unit: 'day' }. */
export interface Quantity {
  low: number;
  high: number;
  unit: string;
  text: string;
  /** Content stems near the number, used to tell whether two numbers talk about the same thing. */
  context: ReadonlySet<string>;
}

/** What the scorers need from one text, computed once per text. */
export interface TextFeatures {
  text: string;
  /** Lower-cased, curly quotes straightened, whitespace collapsed: the haystack for label matching. */
  normalized: string;
  words: number;
  sentences: string[];
  stems: ReadonlySet<string>;
  quantities: Quantity[];
  /** Quoted UI labels and `A > B` paths, each as its lower-cased segments. */
  labels: string[][];
}

const STOPWORDS = new Set(
  `a about above after again all also am an and any are as at be because been before being below between both but by can
  could did do does doing down during each either etc few for from further had has have having he her here hers him his how
  i if in into is it its itself just let me might more most much must my no nor not now of off on once only or other our ours
  out over own per please same shall she should so some such than that the their theirs them then there these they this those
  through to too under until up upon us very via was we were what when where whether which while who whom why will with
  within would yes yet you your yours yourself hi hello thanks thank sorry glad happy help assist`.split(/\s+/),
);

const WORD_NUMBERS: Record<string, number> = {
  one: 1, two: 2, three: 3, four: 4, five: 5, six: 6, seven: 7, eight: 8, nine: 9, ten: 10,
  twelve: 12, fourteen: 14, fifteen: 15, twenty: 20, thirty: 30, sixty: 60, ninety: 90,
};

// Units are grouped so that "3-5 business days" and "5 days" compare; sizes are not converted
// because a mismatch like "1 TB" vs "1000 GB" is rare in support answers and conversion hides real errors.
const UNIT_ALIASES: Record<string, string> = {
  'business days': 'day', 'business day': 'day', 'calendar days': 'day', days: 'day', day: 'day',
  weeks: 'week', week: 'week', months: 'month', month: 'month', years: 'year', year: 'year',
  hours: 'hour', hour: 'hour', hrs: 'hour', hr: 'hour', minutes: 'minute', minute: 'minute', mins: 'minute', min: 'minute',
  seconds: 'second', second: 'second', secs: 'second', sec: 'second',
  watts: 'w', watt: 'w', w: 'w', kw: 'kw', wh: 'wh', mah: 'mah', volts: 'v', volt: 'v', v: 'v', amps: 'a', amp: 'a', ma: 'ma',
  hz: 'hz', khz: 'khz', mhz: 'mhz', ghz: 'ghz', kb: 'kb', mb: 'mb', gb: 'gb', tb: 'tb', mbps: 'mbps', gbps: 'gbps',
  inches: 'inch', inch: 'inch', feet: 'ft', foot: 'ft', ft: 'ft', cm: 'cm', mm: 'mm', lbs: 'lb', lb: 'lb', pounds: 'lb', kg: 'kg',
  percent: '%', '%': '%', dollars: 'usd', usd: 'usd',
};

const NUMBER = `\\d{1,3}(?:,\\d{3})+|\\d+(?:\\.\\d+)?|${Object.keys(WORD_NUMBERS).join('|')}`;
const UNIT = Object.keys(UNIT_ALIASES)
  .sort((a, b) => b.length - a.length)
  .join('|');
const QUANTITY_PATTERN = new RegExp(
  `(?<![\\w.])(${NUMBER})(?:\\s*(?:-|–|—|to|and)\\s*(${NUMBER}))?[\\s-]?(${UNIT})(?![a-z])`,
  'gi',
);
const PRICE_PATTERN = /\$\s?(\d{1,3}(?:,\d{3})+|\d+(?:\.\d+)?)/g;
const WORD_PATTERN = /[a-z0-9]+(?:'[a-z]+)?/g;
const SENTENCE_BREAK = /(?<=[.!?])\s+(?=["'(\[]?[A-Z0-9])|\n+/;
const CURLY_QUOTES = /[‘’“”]/g;
// A single quote opens a label only after a space or bracket, so apostrophes ("don't", "customers'") never do.
const QUOTED_LABEL = /"([^"\n]{2,60})"|(?:^|(?<=[\s(\[]))'([^'\n]{2,60})'(?=[\s.,;:!?)\]]|$)/g;
const PATH_SEPARATOR = /\s*(?:>|›|→)\s*/;
const LABEL_EDGE_PUNCTUATION = /^[\s"'.,;:!?()]+|[\s"'.,;:!?()]+$/g;
const CONTEXT_RADIUS = 5;

/** Strips plural, -ing and -ed so that "returned", "returns" and "returning" meet at "return". */
export function stem(word: string): string {
  let stemmed = word;
  if (stemmed.length > 4 && stemmed.endsWith('ies')) return `${stemmed.slice(0, -3)}y`;
  if (stemmed.length > 5 && stemmed.endsWith('ing')) stemmed = undouble(stemmed.slice(0, -3));
  else if (stemmed.length > 4 && stemmed.endsWith('ed')) stemmed = undouble(stemmed.slice(0, -2));
  else if (stemmed.length > 3 && stemmed.endsWith('s') && !/(?:ss|us|is)$/.test(stemmed)) stemmed = stemmed.slice(0, -1);
  if (stemmed.length > 3 && stemmed.endsWith('e')) stemmed = stemmed.slice(0, -1);
  return stemmed;
}

function undouble(stemmed: string): string {
  const last = stemmed.at(-1);
  return last !== undefined && last === stemmed.at(-2) && !'lsz'.includes(last) ? stemmed.slice(0, -1) : stemmed;
}

export function normalizeText(text: string): string {
  return text.replace(CURLY_QUOTES, (quote) => (quote === '‘' || quote === '’' ? "'" : '"')).toLowerCase().replace(/\s+/g, ' ').trim();
}

export function words(text: string): string[] {
  return text.toLowerCase().replace(CURLY_QUOTES, "'").match(WORD_PATTERN) ?? [];
}

export function contentStems(text: string): string[] {
  return words(text)
    .filter((word) => !STOPWORDS.has(word) && (word.length > 1 || /\d/.test(word)))
    .map((word) => stem(word.replace(/'[a-z]+$/, '')));
}

export function splitSentences(text: string): string[] {
  return text
    .split(SENTENCE_BREAK)
    .map((sentence) => sentence.trim())
    .filter((sentence) => sentence !== '');
}

const toNumber = (raw: string) => WORD_NUMBERS[raw.toLowerCase()] ?? Number(raw.replaceAll(',', ''));

export function extractQuantities(sentence: string): Quantity[] {
  const quantities: Quantity[] = [];
  const found = (index: number, text: string, low: number, high: number, unit: string) => {
    const before = contentStems(sentence.slice(0, index)).slice(-CONTEXT_RADIUS);
    const after = contentStems(sentence.slice(index + text.length)).slice(0, CONTEXT_RADIUS);
    quantities.push({ low: Math.min(low, high), high: Math.max(low, high), unit, text, context: new Set([...before, ...after]) });
  };
  for (const match of sentence.matchAll(QUANTITY_PATTERN)) {
    const [text, first = '', second, unit = ''] = match;
    const low = toNumber(first);
    found(match.index, text, low, second === undefined ? low : toNumber(second), UNIT_ALIASES[unit.toLowerCase()] ?? unit);
  }
  for (const match of sentence.matchAll(PRICE_PATTERN)) {
    const amount = toNumber(match[1] ?? '');
    found(match.index, match[0], amount, amount, 'usd');
  }
  return quantities;
}

const cleanLabel = (label: string) => normalizeText(label).replace(LABEL_EDGE_PUNCTUATION, '');

/** Quoted labels ('Your Orders') and navigation paths (Settings > Bluetooth), as lower-cased segments. */
export function extractLabels(sentence: string): string[][] {
  const labels: string[][] = [];
  const straightened = sentence.replace(CURLY_QUOTES, (quote) => (quote === '‘' || quote === '’' ? "'" : '"'));
  for (const match of straightened.matchAll(QUOTED_LABEL)) {
    const label = cleanLabel(match[1] ?? match[2] ?? '');
    if (label !== '') labels.push([label]);
  }
  if (PATH_SEPARATOR.test(straightened)) {
    const path = pathSegments(straightened.split(PATH_SEPARATOR));
    if (path.length > 1) labels.push(path);
  }
  return labels;
}

const SEGMENT_STOP = /^(?:and|or|to|then|the|a|an|for|on|in|of|if|with|until|from|select|tap|click|choose|open|go)$/i;

function pathSegments(parts: string[]): string[] {
  const segments: string[] = [];
  parts.forEach((part, index) => {
    const tokens = part.replace(/["']/g, ' ').split(/\s+/).filter((token) => token !== '');
    let picked: string[];
    if (index === 0) {
      // The first segment ends the clause before the arrow: keep its trailing Capitalised words ("open Your Account").
      const start = tokens.findLastIndex((token) => !/^[A-Z&]/.test(token) || SEGMENT_STOP.test(token)) + 1;
      picked = tokens.slice(start);
    } else if (index < parts.length - 1) {
      picked = tokens;
    } else {
      // The last segment runs on into the sentence: stop at punctuation or a connecting word.
      picked = [];
      for (const token of tokens.slice(0, 4)) {
        if (picked.length > 0 && SEGMENT_STOP.test(token)) break;
        picked.push(token);
        if (/[,;:.!?)]$/.test(token)) break;
      }
    }
    const segment = cleanLabel(picked.join(' '));
    if (segment !== '') segments.push(segment);
  });
  return segments;
}

export function containsLabel(haystack: string, label: string): boolean {
  let from = haystack.indexOf(label);
  while (from !== -1) {
    const before = haystack[from - 1];
    const after = haystack[from + label.length];
    if (!isWordChar(before) && !isWordChar(after)) return true;
    from = haystack.indexOf(label, from + 1);
  }
  return false;
}

const isWordChar = (char: string | undefined) => char !== undefined && /[a-z0-9]/.test(char);

export function textFeatures(text: string): TextFeatures {
  const sentences = splitSentences(text);
  return {
    text,
    normalized: normalizeText(text).replace(/["']/g, (quote, offset: number, all: string) =>
      // Apostrophes inside words stay ("don't"); quote marks around labels go, so labels match unquoted mentions.
      quote === "'" && isWordChar(all[offset - 1]) && isWordChar(all[offset + 1]) ? quote : '',
    ),
    words: words(text).length,
    sentences,
    stems: new Set(contentStems(text)),
    quantities: sentences.flatMap(extractQuantities),
    labels: sentences.flatMap(extractLabels),
  };
}
