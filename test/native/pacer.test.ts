/**
 * The addon's pacer (src/pacer.rs): short waits for paced replay, resolved on a thread of
 * their own. Asserted: never early, alone or many at once, and arguments outside its range
 * refused. (How punctual it is is measured by bench:replay.)
 */
import test from 'ava';

import { NativeError } from '../../ts/errors';
import { PACER_WAIT_NS_MAX, pacerSleep } from '../../ts/native_market';

test('a wait never ends before its time', async (t) => {
  for (const waitNs of [0, 50_000, 300_000, 1_500_000]) {
    const started = process.hrtime.bigint();
    await pacerSleep(waitNs);
    const tookNs = Number(process.hrtime.bigint() - started);
    t.true(tookNs >= waitNs, `asked ${waitNs} ns, took ${tookNs} ns`);
  }
});

test('concurrent waits each end no earlier than their own deadline', async (t) => {
  const started = process.hrtime.bigint();
  const waitsMs = [6, 2, 4, 1, 5, 3];
  const tookNs = await Promise.all(waitsMs.map((ms) => pacerSleep(ms * 1e6).then(() => Number(process.hrtime.bigint() - started))));
  waitsMs.forEach((ms, i) => t.true(tookNs[i] >= ms * 1e6, `asked ${ms} ms, took ${tookNs[i]} ns`));
});

test('a wait outside 0..PACER_WAIT_NS_MAX is refused with INVALID_ARGUMENT', async (t) => {
  for (const waitNs of [-1, PACER_WAIT_NS_MAX + 1, Number.NaN]) {
    const err = await t.throwsAsync(pacerSleep(waitNs), { instanceOf: NativeError }, String(waitNs));
    t.is((err as NativeError).code, 'INVALID_ARGUMENT');
  }
});
