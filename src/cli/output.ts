/** Output helpers: aligned tables for people, JSON for scripts. */

export interface Output {
  out(text: string): void;
  err(text: string): void;
}

/** Render rows as an aligned text table with a header line. */
export function table(headers: string[], rows: (string | number | null | undefined)[][]): string {
  const cells = rows.map((r) => r.map((c) => (c === null || c === undefined ? '-' : String(c))));
  const widths = headers.map((h, i) =>
    Math.max(h.length, ...cells.map((r) => (r[i] ?? '').length)),
  );
  const line = (r: string[]) =>
    r
      .map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i]!)))
      .join('  ')
      .trimEnd();
  return [line(headers), ...cells.map(line)].join('\n');
}

/** A short, human timestamp (UTC, to the second). */
export function shortTime(iso: string | null | undefined): string {
  if (!iso) return '-';
  return iso.replace('T', ' ').replace(/\.\d+Z$/, 'Z');
}

/** First characters of a digest, enough to tell versions apart. */
export function shortDigest(digest: string): string {
  return digest.slice(0, 12);
}
