/**
 * JSON text indented as `JSON.stringify(doc, null, 2)` would, but from the text itself: a value's
 * numbers are printed as the node answered them (parsing would round one past a double, e.g. a
 * nanosecond timestamp). Undefined for text that is not JSON.
 */
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
      const next = nextNonSpace(text, i + 1);
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
    else if (c !== ' ' && c !== '\n' && c !== '\r' && c !== '\t') out += c;
  }
  return out;
}

function nextNonSpace(text: string, i: number): number {
  while (i < text.length && ' \n\r\t'.includes(text[i])) i++;
  return i;
}

/** The index after the string that opens at `i` (a quote preceded by an odd run of backslashes is escaped). */
function stringEnd(text: string, i: number): number {
  for (let quote = text.indexOf('"', i + 1); ; quote = text.indexOf('"', quote + 1)) {
    let backslashes = 0;
    while (text[quote - 1 - backslashes] === '\\') backslashes++;
    if (backslashes % 2 === 0) return quote + 1;
  }
}
