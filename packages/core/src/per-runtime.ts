/**
 * In-process state kept per runtime, keyed by one of its resources (a process can hold several
 * runtimes, each with its own database and Redis prefix: tests do).
 */
export function perRuntimeMap<K, V>(): (owner: object) => Map<K, V> {
  const maps = new WeakMap<object, Map<K, V>>();
  return (owner) => {
    let map = maps.get(owner);
    if (!map) {
      map = new Map();
      maps.set(owner, map);
    }
    return map;
  };
}
