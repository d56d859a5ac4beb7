import { createHash } from 'node:crypto';
import { BAND_TABLES } from './bands.js';
import actionVerbs from './lexicon/action-verbs.json' with { type: 'json' };
import condescension from './lexicon/condescension.json' with { type: 'json' };
import contradictions from './lexicon/contradictions.json' with { type: 'json' };
import filler from './lexicon/filler.json' with { type: 'json' };
import functionWords from './lexicon/function-words.json' with { type: 'json' };
import hedges from './lexicon/hedges.json' with { type: 'json' };
import internalExposure from './lexicon/internal-exposure.json' with { type: 'json' };
import knownPages from './lexicon/known-pages.json' with { type: 'json' };
import safety from './lexicon/safety.json' with { type: 'json' };
import steps from './lexicon/steps.json' with { type: 'json' };

/** Everything that decides a heuristic score besides the code: band tables, limits, penalties and lexicons. */
export const HEURISTIC_RULES = {
  bands: BAND_TABLES,
  lexicons: { actionVerbs, condescension, contradictions, filler, functionWords, hedges, internalExposure, knownPages, safety, steps },
};

/** SHA-256 of the rules as JSON: recorded as the heuristic's prompt_sha256, so a change of rules changes provenance. */
export const HEURISTIC_RULES_SHA256 = createHash('sha256').update(JSON.stringify(HEURISTIC_RULES)).digest('hex');
