/**
 * Log redaction: replaces secret values in captured log lines with `***`.
 *
 * Lines are redacted one at a time, so:
 * - a value with line breaks is redacted line by line (each of its lines is
 *   a value of its own), since that is how it appears in line-based logs;
 * - the JSON-escaped form of a value is redacted too (`JSON.stringify(env)`
 *   is a common way to print one);
 * - values (or lines of values) shorter than MIN_REDACTED_LENGTH characters
 *   are left alone: starring every `1` or `on` in a log would wreck it while
 *   protecting nothing, because a value that short is guessable anyway.
 */

export const MIN_REDACTED_LENGTH = 4;
export const REDACTED = '***';

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/** The strings to look for: each value's lines and their JSON-escaped forms. */
function needles(values: readonly string[]): string[] {
  const found = new Set<string>();
  for (const value of values) {
    for (const piece of [value, ...value.split(/\r?\n/)]) {
      if (piece.length < MIN_REDACTED_LENGTH || piece.includes('\n')) continue;
      found.add(piece);
      found.add(JSON.stringify(piece).slice(1, -1));
    }
  }
  // Longest first so a value containing another value is starred whole.
  return [...found].sort((a, b) => b.length - a.length);
}

/** A function replacing every occurrence of any of `values` in a log line with `***`. */
export function redactor(values: readonly string[]): (line: string) => string {
  const list = needles(values);
  if (list.length === 0) return (line) => line;
  const pattern = new RegExp(list.map(escapeRegExp).join('|'), 'g');
  return (line) => line.replace(pattern, REDACTED);
}
