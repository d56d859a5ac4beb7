// The pages' addresses in one place: the run list links to a run's report and rating page, the report to its rating page.

const RUN_ID = 'run_[A-Za-z0-9_]{1,80}';

/** @param {string} text */
export const isRunId = (text) => new RegExp(`^${RUN_ID}$`).test(text);

/** @param {string} runId */
export const reportUrl = (runId) => `/evaluate/${encodeURIComponent(runId)}/report`;

/** @param {string} runId */
export const rateUrl = (runId) => `/evaluate/${encodeURIComponent(runId)}/rate`;

/**
 * The run a page of a run is about, from its address (/evaluate/{run_id}/report or /rate), or null.
 * @param {'report' | 'rate'} page
 */
export function runIdOfPage(page) {
  return new RegExp(`^/evaluate/(${RUN_ID})/${page}/?$`).exec(location.pathname)?.[1] ?? null;
}
