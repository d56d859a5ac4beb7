import { readFileSync } from 'node:fs';
import t from 'tap';

const readme = readFileSync('README.md', 'utf8');
const curlLines = readme.split('\n').filter((line) => /^curl /.test(line.trim()));

t.test('a curl example that saves a reply to a file fails on an error reply instead of saving it', async (t) => {
  const saving = curlLines.filter((line) => / -o /.test(line));
  t.ok(saving.length >= 2, 'the README downloads the CSV and the chart');
  for (const line of saving) t.match(line, /curl -\w*f\w* |--fail /, line);
  t.match(readme, /-o eval_results\.csv` would save a 404's JSON into the\s+\.csv/, 'and says why');
});

t.test("the examples of a run's results say to use the run id of one's own 202 reply", async (t) => {
  const runUrls = curlLines.filter((line) => /\/evaluate\/[^ ?]/.test(line));
  t.ok(runUrls.length >= 5);
  for (const line of runUrls) t.match(line, /\/evaluate\/\$RUN\b/, `${line}: the run id is a variable`);
  t.match(readme, /put the run_id of YOUR 202 reply here/);
});
