// Copying an object with some fields set, on the request path.
//
// `{ ...object, key: value }` is the natural way to write it, but V8 builds the copy of a spread with a hidden class
// of its own whenever keys follow the spread, so every request's copy gets a new one, and everything that reads
// these objects afterwards (JSON.stringify, property loads) goes megamorphic. Copying key by key follows V8's cached
// transitions instead: the same shape every time. In-process, the chat path took ~40% less CPU this way.

/**
 * `base` with `fields` set: a new object with every key of `base` (in order, unknown ones included), then `fields`.
 * For plain objects (parsed JSON, literals): `for...in` would also copy enumerable keys of a prototype.
 */
export function withFields<T extends object>(base: T, fields: Partial<T>): T {
  const out = {} as T;
  for (const key in base) out[key] = base[key];
  for (const key in fields) out[key] = fields[key] as T[typeof key];
  return out;
}
