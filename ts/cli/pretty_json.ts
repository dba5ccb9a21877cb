/**
 * JSON text indented as `JSON.stringify(doc, null, 2)` would, but from the text itself: a value's
 * numbers are printed as the node answered them (parsing would round one past a double, e.g. a
 * nanosecond timestamp). Undefined for text that is not JSON.
 */
import { isJsonSpace, skipJsonSpace, stringEnd } from '../json_text';

export function prettyJson(text: string): string | undefined {
  try {
    JSON.parse(text);
  } catch {
    return undefined;
  }
  let out = '';
  let depth = 0;
  const newline = () => `\n${'  '.repeat(depth)}`;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (c === '"') {
      const end = stringEnd(text, i);
      out += text.slice(i, end);
      i = end - 1;
    } else if (c === '{' || c === '[') {
      const next = skipJsonSpace(text, i + 1);
      if (text[next] === (c === '{' ? '}' : ']')) {
        out += c + text[next];
        i = next;
      } else {
        depth++;
        out += c + newline();
      }
    } else if (c === '}' || c === ']') {
      depth--;
      out += newline() + c;
    } else if (c === ',') out += `,${newline()}`;
    else if (c === ':') out += ': ';
    else if (!isJsonSpace(text.charCodeAt(i))) out += c;
  }
  return out;
}
