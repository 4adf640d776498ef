/**
 * Which keys a zod schema allows at a field path, for "did you mean" hints on a misspelt key. Shared by the catalog
 * loader (src/catalog/load.ts) and the experiment loader (src/experiment/yaml-errors.ts); the wording of their
 * messages stays theirs.
 */
import { z } from 'zod';
import { valueAt, type Path } from './positions.js';

/** The schema inside the wrappers that do not change which keys an object allows. */
export function unwrap(s: z.ZodType): z.ZodType {
  for (;;) {
    if (s instanceof z.ZodOptional || s instanceof z.ZodNullable || s instanceof z.ZodDefault || s instanceof z.ZodPrefault) {
      s = s.def.innerType as z.ZodType;
    } else return s;
  }
}

/** The option of a discriminated union that `here` selects, if its discriminator names one. */
function option(s: z.ZodDiscriminatedUnion, here: unknown): z.ZodType | undefined {
  const key = s.def.discriminator;
  const value = (here as Record<string, unknown> | undefined)?.[key];
  return (s.options as z.ZodType[]).find((o) => {
    const lit = o instanceof z.ZodObject ? (o.shape as Record<string, z.ZodType>)[key] : undefined;
    return lit instanceof z.ZodLiteral && lit.values.has(value as never);
  });
}

/** The keys a strict object at `path` allows, found by walking the schema alongside the data (for "did you mean"). */
export function allowedKeys(schema: z.ZodType, path: Path, data: unknown): string[] {
  let s: z.ZodType = schema;
  for (let i = 0; ; i++) {
    s = unwrap(s);
    if (s instanceof z.ZodDiscriminatedUnion) {
      const o = option(s, valueAt(data, path.slice(0, i)));
      if (!o) return [];
      s = o;
    }
    const seg = path[i];
    if (s instanceof z.ZodUnion && !(s instanceof z.ZodDiscriminatedUnion)) {
      // A plain union (workload.rate: a number or one of some maps): the map that has the key, or, at the end, all of them.
      const maps = (s.options as z.ZodType[]).map(unwrap).filter((o): o is z.ZodObject => o instanceof z.ZodObject);
      if (seg === undefined) return maps.flatMap((o) => Object.keys(o.shape as object));
      s = maps.find((o) => String(seg) in (o.shape as object)) ?? z.never();
    }
    if (seg === undefined) return s instanceof z.ZodObject ? Object.keys(s.shape as object) : [];
    if (s instanceof z.ZodObject) s = (s.shape as Record<string, z.ZodType>)[String(seg)] ?? z.never();
    else if (s instanceof z.ZodRecord) s = s.valueType as z.ZodType;
    else if (s instanceof z.ZodArray) s = s.element as z.ZodType;
    else return [];
  }
}
