/**
 * Nesting depth of JSON data, computed without recursion so a hostile
 * document cannot exhaust the stack while being measured. Stops counting at
 * `limit + 1`.
 */
export function jsonDepthExceeds(value: unknown, limit: number): boolean {
  return jsonLimitProblem(value, { maxDepth: limit, maxNodes: Number.POSITIVE_INFINITY }) === 'depth';
}

/**
 * Which bound JSON data breaks, if any: nesting deeper than `maxDepth`, or
 * more than `maxNodes` values in all (object members and array items, at
 * every level). One walk without recursion, stopping at the first breach,
 * so its cost is bounded by the limits, not by the document.
 */
export function jsonLimitProblem(value: unknown, limits: { maxDepth: number; maxNodes: number }): 'depth' | 'nodes' | null {
  let nodes = 0;
  const stack: Array<{ node: unknown; depth: number }> = [{ node: value, depth: 0 }];
  while (stack.length > 0) {
    const { node, depth } = stack.pop()!;
    if (node === null || typeof node !== 'object') continue;
    if (depth + 1 > limits.maxDepth) return 'depth';
    const children = Array.isArray(node) ? node : Object.values(node);
    nodes += children.length;
    if (nodes > limits.maxNodes) return 'nodes';
    for (const child of children) stack.push({ node: child, depth: depth + 1 });
  }
  return null;
}

