/**
 * Throttling classes: a book read as of a past time or seq (one book, or the tops of many) is
 * bulk — it rebuilds books from checkpoints — while the same routes now are reads.
 */
import test from 'ava';
import { requestClass } from '../../ts/api/route_classes';

test('book reads as of a time or a seq are bulk; now, they are reads', (t) => {
  const q = (s: string) => new URLSearchParams(s);
  t.is(requestClass('GET', '/v1/md/books/{instrument}', q('depth=5')), 'read');
  t.is(requestClass('GET', '/v1/md/books/{instrument}', q('at=2023-11-14T22:13:20Z')), 'bulk');
  t.is(requestClass('GET', '/v1/md/books/{instrument}', q('seq=9')), 'bulk');
  t.is(requestClass('POST', '/v1/md/books/top', q('')), 'read');
  t.is(requestClass('POST', '/v1/md/books/top', q('at=1700000000000000000')), 'bulk');
  t.is(requestClass('PUT', '/v1/kv/{key}', q('at=1')), 'write', 'other routes keep their class whatever the query');
  t.is(requestClass('GET', '/health'), 'control');
});
