import { PromptEntrySchema, PromptSetSchema } from '../runs/prompt-set.js';
import type { PromptSetIssue, PromptSetReport } from './data-check-types.js';
import { findNearDuplicateInquiries, MAX_LISTED, type CheckedItem } from './overlap.js';

function parseIssues(content: string): { raw: unknown; issues: PromptSetIssue[] } {
  let raw: unknown;
  try {
    raw = JSON.parse(content.replace(/^\uFEFF/, ''));
  } catch (error) {
    return { raw: undefined, issues: [{ kind: 'invalid_json', path: '', message: (error as Error).message }] };
  }
  const parsed = PromptSetSchema.safeParse(raw);
  const issues = parsed.success
    ? []
    : parsed.error.issues.map((issue): PromptSetIssue => ({ kind: 'invalid_prompt_set', path: issue.path.join('.'), message: issue.message }));
  return { raw, issues };
}

/**
 * Checks a prompt set (data/prompt_sets/*.json) with the schema the runs read it with. Items that
 * pass on their own are still checked for overlap when others in the file do not, as the JSONL
 * checks do with valid lines.
 */
export function analyzePromptSetFile(name: string, content: string) {
  const { raw, issues } = parseIssues(content);
  const entries = Array.isArray(raw) ? raw : [];
  const valid: CheckedItem[] = entries.flatMap((entry, index) => {
    const parsed = PromptEntrySchema.safeParse(entry);
    if (!parsed.success) return [];
    const fields = typeof parsed.data === 'string' ? { inquiry: parsed.data } : parsed.data;
    return [{ file: name, line: null, item: index + 1, id: fields.id ?? null, inquiry: fields.inquiry, answer: fields.reference ?? null }];
  });
  const nearDuplicates = findNearDuplicateInquiries(valid.map((item) => ({ line: item.item as number, inquiry: item.inquiry })));
  const report: PromptSetReport = {
    name,
    kind: 'prompt_set',
    role: 'evaluation',
    items: entries.length,
    valid_items: valid.length,
    format_errors: { count: issues.length, issues: issues.slice(0, MAX_LISTED) },
    warnings: { near_duplicate_inquiry: { count: nearDuplicates.length, pairs: nearDuplicates.slice(0, MAX_LISTED) } },
    training_overlap: null,
  };
  return { report, valid };
}
