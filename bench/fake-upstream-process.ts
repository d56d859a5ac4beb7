/**
 * The fake OpenAI-compatible upstream in a process of its own: its work under load must not be
 * charged to the service, and its latency can be changed between sections without a restart.
 */
import { startFakeOpenAI } from '../test/helpers/fake-openai.js';
import { listenToParent, sendToParent } from './forked-process.js';
import { loadSupportData } from './support-data.js';

const { training } = loadSupportData();
let latencyMs = Number(process.env.FAKE_LATENCY_MS ?? '0');
let answered = 0;

const fake = await startFakeOpenAI({
  behaviour: () => ({ latencyMs }),
  // Real support answers, so that what the service parses, scores and exports has a realistic size and vocabulary.
  answer: () => (training[answered++ % training.length] as { answer: string }).answer,
});

// The fake keeps every request for test assertions; under a load test that is an unbounded leak.
const forgetRequests = setInterval(() => {
  fake.requests.length = 0;
}, 1_000);

listenToParent({
  onMessage(message) {
    if (message.type === 'set-latency') {
      latencyMs = message.latencyMs;
      sendToParent({ type: 'ack' });
    } else if (message.type === 'max-in-flight') {
      sendToParent({ type: 'max-in-flight', maxInFlight: fake.maxInFlight, inFlight: fake.inFlight });
      fake.maxInFlight = fake.inFlight;
    }
  },
  async close() {
    clearInterval(forgetRequests);
    await fake.close();
  },
});

sendToParent({ type: 'ready', url: fake.url });
