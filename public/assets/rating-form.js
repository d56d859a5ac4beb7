// The rating form of one item: each answer under its key with a 1-5 radio group per criterion of the rubric,
// an optional preference and comment. It knows nothing of models: an answer is only ever its key.
import { byId, fill, h } from './dom.js';

/**
 * @typedef {{ criterion: string, title: string, measures: string, levels: { level: number, description: string }[] }} RubricCriterion
 * @typedef {{ criteria: RubricCriterion[], weights: Record<string, number> }} Rubric
 * @typedef {Record<string, Record<string, number>>} Levels by answer key, then criterion
 * @typedef {{ answers: Levels, preference: string | null, comment: string }} Draft
 * @typedef {{ key: string, criterion: RubricCriterion }} Missing
 */

const NO_PREFERENCE = '';

/** @param {string} key @param {string} criterion */
const groupName = (key, criterion) => `level-${key}-${criterion}`;

/**
 * @param {{ rubric: Rubric, onChange: (draft: Draft) => void }} options `onChange` on every level, preference or comment given
 */
export function createRatingForm({ rubric, onChange }) {
  const form = /** @type {HTMLFormElement} */ (byId('rating-form'));
  const answersBox = byId('answers');
  const preferenceBox = byId('preference-options');
  const comment = /** @type {HTMLTextAreaElement} */ (byId('comment'));
  /** @type {string[]} */
  let keys = [];

  /** @param {string} name */
  const radios = (name) => /** @type {HTMLInputElement[]} */ ([...form.querySelectorAll(`input[type="radio"][name="${name}"]`)]);
  /** @param {string} name */
  const checked = (name) => radios(name).find((radio) => radio.checked) ?? null;
  const groups = () => /** @type {HTMLFieldSetElement[]} */ ([...answersBox.querySelectorAll('fieldset.levels')]);
  /** @param {HTMLFieldSetElement} group */
  const groupRadios = (group) => /** @type {HTMLInputElement[]} */ ([...group.querySelectorAll('input[type="radio"]')]);

  /**
   * Shows the description of the level chosen in a group under it, so the rater reads what the number claims.
   * @param {HTMLFieldSetElement} group
   */
  function describeChoice(group) {
    const criterion = rubric.criteria.find((candidate) => candidate.criterion === group.dataset.criterion);
    const level = Number(groupRadios(group).find((radio) => radio.checked)?.value);
    const description = criterion?.levels.find((candidate) => candidate.level === level)?.description;
    fill(/** @type {HTMLElement} */ (group.querySelector('.level-meaning')), description ? `${level}: ${description}` : 'No level yet.');
  }

  /**
   * @param {string} key
   * @param {RubricCriterion} criterion
   */
  function levelGroup(key, criterion) {
    const name = groupName(key, criterion.criterion);
    return h(
      'fieldset',
      { className: 'levels', dataset: { key, criterion: criterion.criterion } },
      h('legend', null, criterion.title),
      h(
        'div',
        { className: 'level-options' },
        criterion.levels.map(({ level, description }) =>
          h(
            'label',
            { title: description },
            h('input', { type: 'radio', value: String(level), attrs: { name, 'aria-label': `${criterion.title} ${level} of 5: ${description}` } }),
            h('span', null, String(level)),
          ),
        ),
      ),
      h('p', { className: 'level-meaning note' }),
    );
  }

  /** @param {{ key: string, text: string }} answer */
  function answerCard(answer) {
    return h(
      'article',
      { className: 'rate-answer', dataset: { key: answer.key } },
      h('h3', null, `Answer ${answer.key}`),
      h('div', { className: 'text answer-text' }, answer.text),
      h('div', { className: 'level-groups' }, rubric.criteria.map((criterion) => levelGroup(answer.key, criterion))),
    );
  }

  /**
   * @param {string} value
   * @param {string} label
   */
  function preferenceOption(value, label) {
    return h('label', null, h('input', { type: 'radio', value, attrs: { name: 'preference' } }), h('span', null, label));
  }

  /** @returns {Draft} */
  function read() {
    /** @type {Levels} */
    const answers = {};
    for (const key of keys) {
      /** @type {Record<string, number>} */
      const levels = {};
      for (const { criterion } of rubric.criteria) {
        const radio = checked(groupName(key, criterion));
        if (radio) levels[criterion] = Number(radio.value);
      }
      answers[key] = levels;
    }
    const preference = checked('preference')?.value ?? NO_PREFERENCE;
    return { answers, preference: preference === NO_PREFERENCE ? null : preference, comment: comment.value };
  }

  form.addEventListener('change', (event) => {
    const group = /** @type {HTMLElement} */ (event.target).closest('fieldset.levels');
    if (group instanceof HTMLFieldSetElement) describeChoice(group);
    onChange(read());
  });
  comment.addEventListener('input', () => onChange(read()));

  /** @param {HTMLFieldSetElement | undefined} group */
  function focusGroup(group) {
    if (!group) return;
    const radios = groupRadios(group);
    (radios.find((radio) => radio.checked) ?? radios[0])?.focus();
  }

  return {
    /**
     * Shows an item's answers with the levels of a draft or a saved rating, or none.
     * @param {{ answers: { key: string, text: string }[] }} item
     * @param {Draft | null} values
     */
    show(item, values) {
      keys = item.answers.map((answer) => answer.key);
      fill(answersBox, item.answers.map(answerCard));
      fill(preferenceBox, keys.map((key) => preferenceOption(key, `Answer ${key}`)), preferenceOption('tie', 'A tie'), preferenceOption(NO_PREFERENCE, 'No preference'));
      for (const key of keys) {
        for (const { criterion } of rubric.criteria) {
          const level = values?.answers[key]?.[criterion];
          for (const radio of radios(groupName(key, criterion))) radio.checked = Number(radio.value) === level;
        }
      }
      for (const radio of radios('preference')) radio.checked = radio.value === (values?.preference ?? NO_PREFERENCE);
      comment.value = values?.comment ?? '';
      for (const group of groups()) describeChoice(group);
    },

    read,

    /** @returns {Missing[]} each answer's criteria without a level, in the order of the page */
    missing() {
      const draft = read();
      return keys.flatMap((key) => rubric.criteria.filter(({ criterion }) => draft.answers[key]?.[criterion] === undefined).map((criterion) => ({ key, criterion })));
    },

    /** @param {Missing} missing */
    focusMissing({ key, criterion }) {
      focusGroup(groups().find((group) => group.dataset.key === key && group.dataset.criterion === criterion.criterion));
    },

    /**
     * The 1-5 keys: sets the level of the criterion in focus (or, with none in focus, of the first without a
     * level) and moves on to the next criterion, so that a rater can go through an item with digits alone.
     * @param {number} level
     * @returns {boolean} whether a criterion took it
     */
    setLevel(level) {
      const all = groups();
      const focused = document.activeElement?.closest('fieldset.levels');
      const group = all.find((candidate) => candidate === focused) ?? all.find((candidate) => !groupRadios(candidate).some((radio) => radio.checked));
      const radio = group && groupRadios(group).find((candidate) => Number(candidate.value) === level);
      if (!group || !radio) return false;
      radio.checked = true;
      radio.dispatchEvent(new Event('change', { bubbles: true }));
      const next = all[all.indexOf(group) + 1];
      if (next) focusGroup(next);
      else (checked('preference') ?? radios('preference')[0])?.focus();
      return true;
    },

    /**
     * @param {string} value an answer key, tie, or '' for none
     * @returns {boolean} whether the item has that choice
     */
    setPreference(value) {
      const radio = radios('preference').find((candidate) => candidate.value === value);
      if (!radio) return false;
      radio.checked = true;
      radio.dispatchEvent(new Event('change', { bubbles: true }));
      return true;
    },
  };
}
