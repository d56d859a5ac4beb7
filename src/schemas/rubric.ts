import { z } from 'zod';
import { CRITERIA, DEFAULT_RUBRIC_WEIGHTS, RUBRIC, RUBRIC_LEVELS, RubricWeightsSchema, type RubricWeights } from '../scoring/rubric.js';

/** The rubric as the API serves it, from the one definition in src/scoring/rubric.ts. */
export function rubricReply(weights: Readonly<RubricWeights>) {
  return {
    criteria: CRITERIA.map((criterion) => ({
      criterion,
      title: RUBRIC[criterion].title,
      measures: RUBRIC[criterion].measures,
      levels: RUBRIC_LEVELS.map((level) => ({ level, description: RUBRIC[criterion].levels[level] })),
    })),
    weights: { ...weights },
  };
}

export const RubricSchema = z
  .object({
    criteria: z
      .array(
        z.object({
          criterion: z.enum(CRITERIA).describe('The key the scores use.'),
          title: z.string(),
          measures: z.string().describe('What the criterion measures.'),
          levels: z
            .array(z.object({ level: z.number().int().min(1).max(5), description: z.string().describe('What an answer at this level looks like.') }))
            .describe('The five anchored levels, 1 (worst) to 5 (best).'),
        }),
      )
      .describe('The four criteria, in the order every table shows them.'),
    weights: RubricWeightsSchema.describe("The weights of this service's new runs and compares (RUBRIC_WEIGHTS); a run keeps the weights it was started with."),
  })
  .describe('The rubric the judge, the heuristic and people score on: the text the judge is shown, level by level.')
  .meta({ id: 'Rubric', examples: [rubricReply(DEFAULT_RUBRIC_WEIGHTS)] });

