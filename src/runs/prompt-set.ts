import { readdir, readFile, realpath } from 'node:fs/promises';
import { isAbsolute, join, relative } from 'node:path';
import { z } from 'zod';
import { AppError } from '../errors.js';
import type { KnowledgeBase } from '../knowledge/knowledge-base.js';
import { InquirySchema } from '../schemas/answer.js';
import type { RunItem } from './run-result.js';

/** The most items one run may hold, inline or from a prompt set. */
export const MAX_RUN_ITEMS = 5000;

/** A prompt-set entry: a plain string (the case study's eval_inquiries.json) or an object. */
export const PromptEntrySchema = z.union([
  InquirySchema,
  z.strictObject({
    id: z.string().trim().min(1).max(100).optional(),
    inquiry: InquirySchema,
    reference: z.string().trim().min(1).max(8000).optional(),
    category: z.string().trim().min(1).max(100).optional(),
  }),
]);
export type PromptEntry = z.infer<typeof PromptEntrySchema>;

export const PromptSetSchema = z.array(PromptEntrySchema).min(1).max(MAX_RUN_ITEMS);

// A bare file name: no separators, so a request can never read outside data/prompt_sets.
export const PromptSetNameSchema = z
  .string()
  .regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$/, 'a file name in data/prompt_sets, e.g. eval_inquiries.json')
  .describe('A prompt set in data/prompt_sets (the .json extension may be left out).');

export async function listPromptSets(dataDir: string): Promise<string[]> {
  const names = await readdir(join(dataDir, 'prompt_sets')).catch(() => []);
  return names.filter((name) => name.endsWith('.json')).sort();
}

export async function readPromptSet(dataDir: string, name: string): Promise<PromptEntry[]> {
  const fileName = name.endsWith('.json') ? name : `${name}.json`;
  const available = await listPromptSets(dataDir);
  if (!available.includes(fileName)) {
    throw new AppError(400, 'unknown_prompt_set', `No prompt set '${name}'. Available: ${available.join(', ') || 'none'}.`, {
      details: { available },
    });
  }
  const folder = await realpath(join(dataDir, 'prompt_sets'));
  const path = await realpath(join(folder, fileName)).catch(() => {
    throw new AppError(400, 'invalid_prompt_set', `Prompt set '${fileName}' cannot be read (a link to nothing?).`);
  });
  // A link may point anywhere on the machine (/etc/passwd); only files that really live in the folder are read.
  if (relative(folder, path).startsWith('..') || isAbsolute(relative(folder, path))) {
    throw new AppError(400, 'invalid_prompt_set', `Prompt set '${fileName}' is a link to a file outside data/prompt_sets; it is not read.`);
  }
  let raw: unknown;
  try {
    raw = JSON.parse(await readFile(path, 'utf8'));
  } catch {
    // JSON.parse quotes the text it failed on: the file's content never goes into a reply.
    throw new AppError(400, 'invalid_prompt_set', `Prompt set '${fileName}' is not valid JSON.`);
  }
  const parsed = PromptSetSchema.safeParse(raw);
  if (!parsed.success) {
    const details = parsed.error.issues.slice(0, 20).map((issue) => ({ path: issue.path.join('.'), message: issue.message }));
    throw new AppError(400, 'invalid_prompt_set', `Prompt set '${fileName}' is invalid: ${details.map((d) => `${d.path || '(root)'}: ${d.message}`).join('; ')}`, {
      details,
    });
  }
  return parsed.data;
}

/** Gives every entry an id and marks the ones whose inquiry the fine-tune was trained on, exactly or as a paraphrase. */
export function toRunItems(entries: PromptEntry[], knowledgeBase: KnowledgeBase): RunItem[] {
  const width = String(entries.length).length;
  const items = entries.map((entry, index): RunItem => {
    const fields = typeof entry === 'string' ? { inquiry: entry } : entry;
    const match = knowledgeBase.trainingMatch(fields.inquiry);
    return {
      item_id: fields.id ?? `item-${String(index + 1).padStart(width, '0')}`,
      inquiry: fields.inquiry,
      reference: fields.reference ?? null,
      category: fields.category ?? null,
      in_training: match.in_training,
      training_line: match.training_line,
      training_similarity: match.similarity,
    };
  });
  const seen = new Set<string>();
  for (const item of items) {
    if (seen.has(item.item_id)) throw new AppError(400, 'duplicate_item_id', `Item id '${item.item_id}' is used twice; ids must be unique within a run.`);
    seen.add(item.item_id);
  }
  return items;
}
