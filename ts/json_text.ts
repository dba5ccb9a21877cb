/**
 * Scanning JSON text without parsing it, for the places that must keep a value's own text
 * (numbers past a double): the API's raw values and the CLI's indenting. The text is assumed
 * valid JSON (JSON.parse accepted it first).
 */

/** JSON's four whitespace characters. */
export function isJsonSpace(c: number): boolean {
  return c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09;
}

/** The first index at or after `i` that is not whitespace (or the end). */
export function skipJsonSpace(text: string, i: number): number {
  while (i < text.length && isJsonSpace(text.charCodeAt(i))) i++;
  return i;
}

/** The index after the string that opens at `i` (by indexOf: most strings hold no escape). */
export function stringEnd(text: string, i: number): number {
  for (let quote = text.indexOf('"', i + 1); ; quote = text.indexOf('"', quote + 1)) {
    // Escaped iff an odd number of backslashes precede it.
    let backslashes = 0;
    while (text.charCodeAt(quote - 1 - backslashes) === 0x5c) backslashes++;
    if (backslashes % 2 === 0) return quote + 1;
  }
}

/** The texts of the elements of the array that opens at `open` (each as written, spaces trimmed). */
export function arrayElements(text: string, open: number): string[] {
  const out: string[] = [];
  let depth = 0;
  let start = skipJsonSpace(text, open + 1);
  if (text[start] === ']') return out;
  for (let i = start; i < text.length; i++) {
    const c = text[i];
    if (c === '"') i = stringEnd(text, i) - 1;
    else if (c === '{' || c === '[') depth++;
    else if ((c === ',' || c === ']' || c === '}') && depth === 0) {
      out.push(text.slice(start, i).trimEnd());
      if (c !== ',') return out;
      start = skipJsonSpace(text, i + 1);
    } else if (c === '}' || c === ']') depth--;
  }
  throw new Error('an array that does not end');
}
