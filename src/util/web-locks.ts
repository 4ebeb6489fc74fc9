/**
 * Runs `fn` holding the exclusive Web Lock `name` (one holder across every tab and worker of the origin);
 * where the Web Locks API is missing (Node, old browsers) it just runs `fn`.
 */
export function withLock<T>(name: string, fn: () => Promise<T>): Promise<T> {
  const locks = (globalThis.navigator as Navigator | undefined)?.locks;
  if (!locks?.request) return fn();
  return locks.request(name, { mode: 'exclusive' }, fn) as Promise<T>;
}
