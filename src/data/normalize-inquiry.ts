/**
 * The one definition of "the same inquiry" for the project: training-set leakage and evaluation
 * contamination checks must agree on it, or one would flag what the other lets through.
 * NFKC first so that full-width letters, ligatures and compatibility digits compare equal to
 * their plain forms before punctuation is stripped.
 */
export function normalizeInquiry(text: string): string {
  return text
    .normalize('NFKC')
    .toLowerCase()
    .replace(/[\p{P}\p{S}]+/gu, '')
    .replace(/\s+/gu, ' ')
    .trim();
}

const INQUIRY_PREFIX = /^inquiry:/i;
const QUOTED = /^["“]([\s\S]*)["”]$/;

/** Training user turns read `Inquiry: "<question>"`; hand-written or older rows may lack the prefix or the quotes. */
export function extractInquiry(userContent: string): string {
  const unprefixed = userContent.trim().replace(INQUIRY_PREFIX, '').trim();
  const quoted = QUOTED.exec(unprefixed);
  // The group always takes part in a match, so it is never undefined.
  return (quoted ? (quoted[1] as string) : unprefixed).trim();
}
