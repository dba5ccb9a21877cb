/** The error catalogue decides every status; storage and internal failures hide their message. */
import test from 'ava';
import { errorAnswer } from '../../ts/api/errors';
import { ERROR_CATALOGUE, fromNative, NativeError, QuorumError, UnavailableError } from '../../ts/errors';

test('a native failure keeps its code and never shows its message (file paths) to clients', (t) => {
  const err = fromNative(new Error('[ENGINE_IO] IO error: /var/lib/qkv/n1/engine/000123.sst: No space left on device'));
  t.true(err instanceof NativeError);
  const answer = errorAnswer(err);
  t.is(answer.status, 500);
  t.is(answer.body.error.code, 'ENGINE_IO');
  t.notRegex(answer.body.error.message, /\/var\/lib|sst|No space/);
});

test('an addon code missing from the catalogue is still reported as itself, with status 500', (t) => {
  const answer = errorAnswer(fromNative(new Error('[WAL_SOMETHING_NEW] /data/wal/00001.log broke')));
  t.is(answer.status, 500);
  t.is(answer.body.error.code, 'WAL_SOMETHING_NEW');
  t.notRegex(answer.body.error.message, /\/data/);
});

test('statuses come from the catalogue, with details and headers kept', (t) => {
  const mismatch = errorAnswer(new QuorumError('revision_mismatch', 'k is at revision 7', { details: { revision: 7 } }));
  t.deepEqual(mismatch, { status: 409, body: { error: { code: 'revision_mismatch', message: 'k is at revision 7', revision: 7 } }, headers: {} });
  const overloaded = errorAnswer(new UnavailableError('full', 'overloaded'));
  t.is(overloaded.status, 503);
  t.is(overloaded.headers['retry-after'], '1');
  t.is(errorAnswer(new Error('boom /secret/path')).body.error.code, 'internal');
  t.notRegex(errorAnswer(new Error('boom /secret/path')).body.error.message, /secret/);
});

test('every catalogued code has a status in 400..599 and a class', (t) => {
  for (const [code, entry] of Object.entries(ERROR_CATALOGUE)) {
    t.true(entry.status >= 400 && entry.status < 600, code);
    t.truthy(entry.class, code);
  }
});
