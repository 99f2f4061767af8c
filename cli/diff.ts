/** One difference between two JSON values, at a dotted path such as `tasks.1.amount`; `undefined` means absent. */
export interface Change {
  path: string;
  before: unknown;
  after: unknown;
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function join(path: string, part: string | number): string {
  return path ? `${path}.${part}` : String(part);
}

/**
 * Every leaf that differs between two JSON values, objects compared key by
 * key (the new value's order first, then keys only the old one has) and
 * arrays index by index, so paths read like the API's error paths.
 */
export function diffValues(before: unknown, after: unknown, path = ''): Change[] {
  if (isPlainObject(before) && isPlainObject(after)) {
    const keys = [...Object.keys(after), ...Object.keys(before).filter((key) => !(key in after))];
    return keys.flatMap((key) => diffValues(before[key], after[key], join(path, key)));
  }
  if (Array.isArray(before) && Array.isArray(after)) {
    return Array.from({ length: Math.max(before.length, after.length) }, (_, index) => diffValues(before[index], after[index], join(path, index))).flat();
  }
  return JSON.stringify(before) === JSON.stringify(after) ? [] : [{ path: path || '(whole value)', before, after }];
}

function show(value: unknown): string {
  return value === undefined ? '(absent)' : JSON.stringify(value);
}

/** Above this many line pairs the line diff prints old and new whole instead of aligning them. */
const MAX_LINE_DIFF_CELLS = 1_000_000;

/**
 * A line diff of two texts (scripts, email bodies): unchanged lines are
 * left out, removed ones start with `- `, added ones with `+ `, aligned on
 * their longest common subsequence.
 */
export function lineDiff(before: string, after: string): string[] {
  const a = before.split('\n');
  const b = after.split('\n');
  if (a.length * b.length > MAX_LINE_DIFF_CELLS) return [...a.map((line) => `- ${line}`), ...b.map((line) => `+ ${line}`)];
  // common[i][j]: length of the longest common subsequence of a[i..] and b[j..].
  const common = Array.from({ length: a.length + 1 }, () => new Array<number>(b.length + 1).fill(0));
  for (let i = a.length - 1; i >= 0; i -= 1) {
    for (let j = b.length - 1; j >= 0; j -= 1) {
      common[i]![j] = a[i] === b[j] ? common[i + 1]![j + 1]! + 1 : Math.max(common[i + 1]![j]!, common[i]![j + 1]!);
    }
  }
  const lines: string[] = [];
  let i = 0;
  let j = 0;
  while (i < a.length || j < b.length) {
    if (i < a.length && j < b.length && a[i] === b[j]) {
      i += 1;
      j += 1;
    } else if (i < a.length && (j === b.length || common[i + 1]![j]! >= common[i]![j + 1]!)) {
      lines.push(`- ${a[i]}`);
      i += 1;
    } else {
      lines.push(`+ ${b[j]}`);
      j += 1;
    }
  }
  return lines;
}

/** How a change reads: `wait.seconds: 1800 -> 20`, or a line diff under the path for texts of several lines. */
export function formatChange(change: Change): string[] {
  const { before, after } = change;
  if (typeof before === 'string' && typeof after === 'string' && (before.includes('\n') || after.includes('\n'))) {
    return [`${change.path}:`, ...lineDiff(before, after).map((line) => `  ${line}`)];
  }
  return [`${change.path}: ${show(before)} -> ${show(after)}`];
}
