/**
 * A multi-get answer matched to the keys asked, whatever layout the member answered in: columns
 * (`?layout=columns`, what the client asks for), positional items, or keyed items (a member
 * that ignores the layout).
 */
import type { KeyValue } from './client';

/** An item of a positional multi-get answer (`?layout=positional`): no key, `null` where absent. */
export interface PositionalItem {
  value: unknown;
  revision: number;
}

/**
 * Each key's item from a multi-get answer (undefined: absent). Asked positional, the answer has
 * one item per key in order; a member that answers keyed (only the keys found, each with its
 * key, in the order asked) is matched by one walk, a map the fallback for any other order.
 */
export function matchItems(keys: readonly string[], items: readonly (KeyValue | PositionalItem | null)[]): (KeyValue | undefined)[] {
  const out: (KeyValue | undefined)[] = new Array(keys.length);
  if (items.length === keys.length) {
    for (let i = 0; i < keys.length; i++) {
      const it = items[i];
      out[i] = it === null ? undefined : { key: keys[i], value: it.value, revision: it.revision };
    }
    return out;
  }
  const keyed = items as readonly KeyValue[];
  let j = 0;
  for (let i = 0; i < keys.length; i++) out[i] = j < keyed.length && keyed[j].key === keys[i] ? keyed[j++] : undefined;
  if (j === keyed.length) return out;
  const byKey = new Map(keyed.map((kv) => [kv.key, kv]));
  return keys.map((k) => byKey.get(k));
}

/** `{"values":[…],"revisions":[…]}`: one entry per key asked, `null` in both where absent. */
export interface ColumnsAnswer {
  values: unknown[];
  revisions: (number | null)[];
}

/** Each key's value (undefined: absent) from a multi-get answer in any layout. */
export function answerItems(keys: readonly string[], answer: ColumnsAnswer | { items: readonly (KeyValue | PositionalItem | null)[] }): (KeyValue | undefined)[] {
  if ('items' in answer) return matchItems(keys, answer.items);
  const { values, revisions } = answer;
  if (values.length !== keys.length || revisions.length !== keys.length) throw new Error(`a multi-get of ${keys.length} keys was answered with ${values.length} values and ${revisions.length} revisions`);
  const out: (KeyValue | undefined)[] = new Array(keys.length);
  for (let i = 0; i < keys.length; i++) {
    const revision = revisions[i];
    out[i] = revision === null ? undefined : { key: keys[i], value: values[i], revision };
  }
  return out;
}
