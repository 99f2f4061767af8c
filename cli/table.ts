/** The width of each column: its longest cell. */
export function columnWidths(rows: readonly string[][]): number[] {
  const widths: number[] = [];
  for (const row of rows) row.forEach((cell, index) => (widths[index] = Math.max(widths[index] ?? 0, cell.length)));
  return widths;
}

/** One row, cells padded to the widths and two spaces apart; the last cell is not padded. */
export function formatRow(row: readonly string[], widths: readonly number[]): string {
  return row.map((cell, index) => (index === row.length - 1 ? cell : cell.padEnd(widths[index] ?? 0))).join('  ');
}

/** Rows as aligned text, one line each, ending in a newline. */
export function formatTable(rows: readonly string[][]): string {
  const widths = columnWidths(rows);
  return rows.map((row) => `${formatRow(row, widths)}\n`).join('');
}
