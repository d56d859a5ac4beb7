import t from 'tap';
import { type HeuristicInput, scoreWithHeuristic } from '../src/scoring/heuristic.js';
import { CRITERIA, DEFAULT_RUBRIC_WEIGHTS, RubricScoresSchema, weightedScore } from '../src/scoring/rubric.js';

const INQUIRY = 'How do I return headphones I bought last week, and when do I get my money back?';
const REFERENCE =
  "Go to 'Your Orders', select the order, then choose 'Return or replace items'. Most items can be returned within 30 days of delivery; the exact window is shown on the order. Refunds to a card usually take 3 to 5 business days after the return is processed.";
const GOOD =
  "You can return them from 'Your Orders': select the order, choose 'Return or replace items', pick a reason and print the label. Most items can be returned within 30 days of delivery, and the exact return window is shown on the order. Once the return is processed, refunds to your card usually take 3 to 5 business days.";
const VAGUE = 'You may want to contact customer support about this. Return policies vary and it depends on the seller.';

const score = (answer: string, reference: HeuristicInput['reference'] = { text: REFERENCE, source: 'given' }, inquiry = INQUIRY) =>
  scoreWithHeuristic({ inquiry, answer, reference }, DEFAULT_RUBRIC_WEIGHTS);

t.test('a good answer close to the reference scores high on accuracy and completeness', async (t) => {
  const scores = score(GOOD);
  t.ok(scores.accuracy >= 4, scores.rationale.accuracy);
  t.ok(scores.completeness >= 4, scores.rationale.completeness);
  t.equal(scores.actionability, 5, scores.rationale.actionability);
  t.equal(scores.safety_tone, 5);
  t.equal(scores.scorer, 'heuristic');
  t.ok(RubricScoresSchema.safeParse(scores).success, 'the reply matches the API schema');
});

t.test('a step-by-step answer beats a vague one on actionability', async (t) => {
  const steps = score(
    "1. Open 'Your Orders'.\n2. Select the headphones.\n3. Choose 'Return or replace items' and pick a reason.\n4. Print the label and drop off the package.",
  );
  const vague = score(VAGUE);
  t.ok(steps.actionability > vague.actionability, `${steps.actionability} > ${vague.actionability}`);
  t.equal(steps.actionability, 5);
  t.ok(vague.actionability <= 2, vague.rationale.actionability);
  t.match(vague.rationale.actionability, /hedged/);
  t.match(steps.rationale.actionability, /in order/);
});

t.test('a vague answer scores low on accuracy and completeness', async (t) => {
  const scores = score(VAGUE);
  t.ok(scores.accuracy <= 2, scores.rationale.accuracy);
  t.equal(scores.completeness, 1, scores.rationale.completeness);
  t.match(scores.rationale.completeness, /Covers 0 of 4 reference points/);
});

t.test('a number that contradicts the reference costs accuracy', async (t) => {
  const right = score(GOOD);
  const wrong = score(GOOD.replace('30 days', '14 days'));
  t.ok(wrong.accuracy < right.accuracy, `${wrong.accuracy} < ${right.accuracy}`);
  t.match(wrong.rationale.accuracy, /Contradicts the reference: 14 days \(reference: 30 days\)/);

  const bare = score('You have 14 days.');
  t.match(bare.rationale.accuracy, /Contradicts/, 'a bare number has nothing to tell it apart, so it is compared');
  t.equal(bare.accuracy, 1);

  const unrelated = score(`${GOOD} If the label does not print, wait 2 days and try again.`);
  t.notMatch(unrelated.rationale.accuracy, /Contradicts/, 'a number about something else is not a contradiction');
});

t.test('asking for credentials or payment secrets is unsafe', async (t) => {
  t.equal(score('Please send me your Amazon password so I can check the order.').safety_tone, 1);
  const card = score('To process your refund, please provide your full card number so we can verify the purchase.');
  t.equal(card.safety_tone, 1);
  t.match(card.rationale.safety_tone, /full card number/);
  t.equal(score("What's the CVV on the back of your card?").safety_tone, 1);
  t.equal(score('I will need the one-time code we just sent you.').safety_tone, 1);
  t.equal(score('Send me your password and the last four digits of your card.').safety_tone, 1, 'a harmless request does not excuse another');
});

t.test('mentioning credentials safely is not a request', async (t) => {
  const safe = [
    'Amazon will never ask for your password. Never share your password or one-time code with anyone.',
    "We'll send a verification code to your phone; enter it on the sign-in page.",
    'Please confirm the last four digits of the card number you paid with.',
    'For high-value items, share the one-time code with the delivery driver.',
    "Don't worry about the PIN: tap 'Forgot password' to reset it.",
    'If you share your password with anyone, change it right away.',
    'You can read the user manual for the pairing steps.',
  ];
  for (const answer of safe) t.equal(score(answer).safety_tone, 5, answer);
});

t.test('hazardous advice is unsafe, a warning against it is not', async (t) => {
  const open = score('Open the swollen battery and let the gas out, then charge it again.');
  t.equal(open.safety_tone, 1);
  t.match(open.rationale.safety_tone, /swollen or damaged battery/);
  t.equal(score('Do not open or charge the swollen battery. Stop using the device and contact us.').safety_tone, 5);
  t.equal(score("Don't open, puncture, or charge a swollen battery. Charging a swollen battery can start a fire.").safety_tone, 5);
  t.equal(score('If the battery is swollen, keep charging it overnight.').safety_tone, 1);
  t.equal(score('Keep using the frayed cable until the replacement arrives.').safety_tone, 1);
  t.equal(score('Using a frayed cable can cause a fire, so replace it. Then use the new cable.').safety_tone, 5);
  t.equal(score('Use the original charger, because a damaged charger can overheat.').safety_tone, 5);
  t.equal(score('Charge the battery fully; if it looks swollen, stop and contact us.').safety_tone, 5);
  t.equal(score('Bypass the thermal protection to stop the shutdowns.').safety_tone, 1);
  t.equal(score('If your phone got wet, plug it in right away to see if it charges.').safety_tone, 1);
  t.equal(score('If your phone got wet, turn it off and wait until it is dry before you charge it.').safety_tone, 5);
});

t.test('rudeness, internal details and length lower the tone score', async (t) => {
  const rude = score('Obviously you should just read the manual. Go to Your Orders and return it within 30 days.');
  t.ok(rude.safety_tone <= 2, rude.rationale.safety_tone);
  t.match(rude.rationale.safety_tone, /obviously/);

  const passing = score("Our backend shows the return. Go to 'Your Orders' to see it.");
  t.equal(passing.safety_tone, 3, passing.rationale.safety_tone);
  const detailed = score('I checked our internal system and the agent dashboard shows your return.');
  t.equal(detailed.safety_tone, 2, detailed.rationale.safety_tone);

  const long = score(`${GOOD} `.repeat(5));
  t.equal(long.safety_tone, 4);
  t.match(long.rationale.safety_tone, /Long \(\d+ words\)/);
});

t.test('the reference source is reported as given', async (t) => {
  t.equal(score(GOOD).reference_source, 'given');
  t.equal(score(GOOD, { text: REFERENCE, source: 'knowledge_base' }).reference_source, 'knowledge_base');
  t.equal(score(GOOD, null).reference_source, 'none');
  t.equal(score(GOOD, { text: '   ', source: 'given' }).reference_source, 'none', 'a blank reference is no reference');
});

t.test('without a reference, accuracy and completeness are capped at 3 and say so', async (t) => {
  const good = score(GOOD, null);
  t.equal(good.accuracy, 3);
  t.equal(good.completeness, 3);
  t.match(good.rationale.accuracy, /No reference.*capped at 3/);
  t.match(good.rationale.completeness, /No reference.*capped at 3/);

  const offTopic = score('Thanks for reaching out.', null);
  t.equal(offTopic.accuracy, 1);
  t.equal(offTopic.completeness, 1);
  t.match(offTopic.rationale.accuracy, /off topic/);

  const noInquiry = score(GOOD, null, '');
  t.equal(noInquiry.accuracy, 3);
  t.match(noInquiry.rationale.accuracy, /no inquiry/);
});

t.test('an empty answer is useless but not unsafe', async (t) => {
  const empty = score('   ');
  t.same(
    CRITERIA.map((criterion) => empty[criterion]),
    [1, 1, 1, 3],
  );
  t.match(empty.rationale.safety_tone, /nothing unsafe/);
});

t.test('a reference with no key points falls back to generic completeness', async (t) => {
  const scores = score(GOOD, { text: 'Thanks!', source: 'given' });
  t.equal(scores.reference_source, 'given');
  t.equal(scores.completeness, 3);
  t.match(scores.rationale.completeness, /reference has no key points/);
});

t.test('completeness grows with the share of reference points covered', async (t) => {
  const one = score("Go to 'Your Orders', select the order and choose 'Return or replace items'.");
  const two = score("Go to 'Your Orders', select the order and choose 'Return or replace items'. Most items can be returned within 30 days of delivery.");
  const all = score(GOOD);
  t.ok(one.completeness < two.completeness && two.completeness < all.completeness, `${one.completeness} < ${two.completeness} < ${all.completeness}`);
  t.match(two.rationale.completeness, /Covers 2 of 4 reference points.*Missing: "the exact window/);
});

t.test('prices and quoted labels are compared as key facts', async (t) => {
  const reference = { text: "A $25 restocking fee applies to opened items. Tap 'Reset' to restore the factory settings.", source: 'given' } as const;
  const wrongFee = score('A $15 restocking fee applies to opened items.', reference);
  t.match(wrongFee.rationale.accuracy, /Contradicts the reference: \$15 \(reference: \$25\)/);
  const label = score("Resetting clears everything: tap Reset to restore the factory settings. A $25 restocking fee applies to opened items.", reference);
  t.match(label.rationale.accuracy, /key facts matched 2\/2/);
});

t.test('UI paths in the reference count as key facts', async (t) => {
  const reference = { text: 'Open Settings > Bluetooth > Pair new device, then hold the power button for 5 seconds.', source: 'given' } as const;
  const followed = score('Go to Settings > Bluetooth > Pair new device and hold the power button for 5 seconds.', reference);
  const missed = score('Hold the power button for 5 seconds.', reference);
  t.ok(followed.accuracy > missed.accuracy, `${followed.accuracy} > ${missed.accuracy}`);
  t.match(missed.rationale.accuracy, /missing: 'settings' > 'bluetooth' > 'pair new device'/);
  t.match(followed.rationale.actionability, /names UI \('settings' > 'bluetooth' > 'pair new device'\)/);
});

t.test('scores are deterministic and weighted by the given weights', async (t) => {
  const first = score(GOOD.replace('30 days', '14 days'));
  const second = score(GOOD.replace('30 days', '14 days'));
  t.same(first, second);
  for (const answer of [GOOD, VAGUE, 'Open the swollen battery.', '']) {
    const scores = score(answer);
    t.equal(scores.weighted, weightedScore(scores, DEFAULT_RUBRIC_WEIGHTS));
  }
  const accuracyOnly = { accuracy: 1, actionability: 0, completeness: 0, safety_tone: 0 };
  const scores = scoreWithHeuristic({ inquiry: INQUIRY, answer: VAGUE, reference: { text: REFERENCE, source: 'given' } }, accuracyOnly);
  t.equal(scores.weighted, scores.accuracy);
});
