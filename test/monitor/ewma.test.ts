import test from 'ava';
import { DETECTOR_DEFAULTS, EwmaDetector, type WindowVerdict } from '../../ts/monitor/ewma';
import { seededRandom } from '../helpers/random';

/** A seeded standard normal (Box–Muller). */
function gaussian(seed: number): () => number {
  const rnd = seededRandom(seed);
  return () => Math.sqrt(-2 * Math.log(1 - rnd())) * Math.cos(2 * Math.PI * rnd());
}

function feed(d: EwmaDetector, xs: Iterable<number>): WindowVerdict[] {
  const out: WindowVerdict[] = [];
  for (const x of xs) out.push(d.observe(x));
  return out;
}

function* noise(seed: number, n: number, mean: number, sd: number): Generator<number> {
  const g = gaussian(seed);
  for (let i = 0; i < n; i++) yield mean + sd * g();
}

test('pure Gaussian noise: at most one false alarm per 10,000 windows at k = 3 (seeds 1..5)', (t) => {
  for (let seed = 1; seed <= 5; seed++) {
    const d = new EwmaDetector();
    const verdicts = feed(d, noise(seed, 10_000, 2.0, 0.2));
    const alarms = verdicts.filter((v) => v.started).length;
    t.true(alarms <= 1, `seed ${seed}: ${alarms} false alarms`);
    // The baseline is the signal's own mean and spread.
    t.true(Math.abs(d.mu - 2.0) < 0.05, `seed ${seed}: μ ${d.mu}`);
    t.true(Math.abs(d.sigma - 0.2) < 0.05, `seed ${seed}: σ ${d.sigma}`);
  }
});

test('a 5σ step is detected within 3 windows, and the baseline does not learn from it', (t) => {
  for (let seed = 1; seed <= 20; seed++) {
    const d = new EwmaDetector();
    feed(d, noise(seed, 500, 10, 1));
    const muBefore = d.mu;
    const after = feed(d, noise(seed + 1000, 50, 15, 1));
    const at = after.findIndex((v) => v.started);
    t.true(at >= 0 && at < 3, `seed ${seed}: detected at window ${at}`);
    t.true(Math.abs(d.mu - muBefore) < 1e-9, `seed ${seed}: μ moved ${muBefore} → ${d.mu} during the anomaly`);
    t.is(d.state, 'anomaly');
  }
});

test('a spike alarms and clears with hysteresis once the signal is back', (t) => {
  const d = new EwmaDetector();
  feed(d, noise(7, 300, 1, 0.1));
  const spike = feed(d, [3, 3, 3, 3]);
  t.true(spike.some((v) => v.started));
  // Back to normal: the anomaly needs `clearWindows` normal windows in a row to clear.
  const back = feed(d, noise(8, 10, 1, 0.1));
  const clearedAt = back.findIndex((v) => v.ended);
  t.is(clearedAt, DETECTOR_DEFAULTS.clearWindows - 1);
  t.is(d.state, 'normal');
  t.true(Math.abs(d.mu - 1) < 0.05, `μ ${d.mu}`);
});

test('a slow drift moves the baseline without an alarm', (t) => {
  const d = new EwmaDetector();
  const g = gaussian(3);
  // From 1.0 to 3.0 over 20,000 windows (each step 1e-4, σ of the noise 0.1).
  const xs = Array.from({ length: 20_000 }, (_, i) => 1 + i * 1e-4 + 0.1 * g());
  const verdicts = feed(d, xs);
  t.is(verdicts.filter((v) => v.started).length, 0);
  t.true(Math.abs(d.mu - 3) < 0.1, `μ followed the drift: ${d.mu}`);
});

test('a level held past relearnWindows becomes the new baseline', (t) => {
  const params = { ...DETECTOR_DEFAULTS, relearnWindows: 50 };
  const d = new EwmaDetector(params);
  feed(d, noise(4, 200, 1, 0.1));
  const high = feed(d, noise(5, 200, 4, 0.1));
  t.is(high.filter((v) => v.started).length, 1);
  t.is(high.filter((v) => v.ended).length, 1);
  t.is(d.state, 'normal');
  t.true(Math.abs(d.mu - 4) < 0.1, `μ ${d.mu}`);
});

test('bad parameters are refused with the parameter named', (t) => {
  t.throws(() => new EwmaDetector({ ...DETECTOR_DEFAULTS, k: 0 }), { message: /k must be > 0/ });
  t.throws(() => new EwmaDetector({ ...DETECTOR_DEFAULTS, clearZ: 3 }), { message: /clearZ/ });
  t.throws(() => new EwmaDetector({ ...DETECTOR_DEFAULTS, confirmWindows: 0.5 }), { message: /confirmWindows/ });
  t.throws(() => new EwmaDetector().observe(Number.NaN), { message: /finite/ });
});
