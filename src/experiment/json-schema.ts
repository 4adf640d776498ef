/**
 * experiments/schema.json: a JSON Schema (draft 7, the draft the YAML language server supports best) of experiment
 * files, generated from the zod schema (src/spec/experiment-schema.ts, with schema.ts's expect entries) so that an
 * editor offers the same keys, enums, defaults and descriptions the loader enforces. A file opts in with a first line
 *
 *   # yaml-language-server: $schema=../schema.json
 *
 * The JSON Schema is deliberately looser than the loader in one way: a map may leave out keys the loader requires,
 * because `extends` and `sweep` can supply them (a file that extends another may write only what it changes). Only
 * what stands whole in a list (a fault, an expectation, a sweep value) must be complete. Rules across fields (TP
 * against the model, the transport against the node, a zip group's equal lengths) are for `nixlsim validate`.
 *
 * `npm run schema` rewrites experiments/schema.json; a test fails when the committed file differs by one byte.
 */
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { z } from 'zod';
import { projectRoot } from '../catalog/load.js';
import { EVENT_KINDS } from '../spec/events.js';
import { writeFileAtomic } from '../spec/output.js';
import { experimentFileSchema, expectListSchema, fieldPaths, fieldSchema, METRIC_MAPS, METRIC_PATHS } from './schema.js';

type Json = Record<string, unknown>;

const OPTIONS = { target: 'draft-7', io: 'input', unrepresentable: 'any' } as const;

/** The file the schema is committed as, relative to the project root. */
export const SCHEMA_FILE = 'experiments/schema.json';

function convert(schema: z.ZodType): Json {
  const out = z.toJSONSchema(schema, OPTIONS) as Json;
  delete out['$schema'];
  return clean(out) as Json;
}

/** Drops zod's bounds of a safe integer (noise in an editor's hover) from every level. */
function clean(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(clean);
  if (v === null || typeof v !== 'object') return v;
  const out: Json = {};
  for (const [k, x] of Object.entries(v)) {
    if ((k === 'maximum' && x === Number.MAX_SAFE_INTEGER) || (k === 'minimum' && x === Number.MIN_SAFE_INTEGER)) continue;
    out[k] = clean(x);
  }
  return out;
}

/**
 * A map's keys may all be left out (extends and sweep can supply them): `required` goes, and a discriminated union
 * (expiry) becomes anyOf, since a partial value may fit more than one option. List items keep theirs: a list is
 * replaced whole, never merged, so each item must be complete on its own.
 */
function partial(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(partial);
  if (v === null || typeof v !== 'object') return v;
  const out: Json = {};
  for (const [k, x] of Object.entries(v)) {
    if (k === 'required') continue;
    if (k === 'items') out[k] = x;
    else out[k === 'oneOf' ? 'anyOf' : k] = partial(x);
  }
  return out;
}

/** Definition names are plain (letters, digits, dots), so a $ref needs no escaping. */
const valuesRef = (path: string) => ({ $ref: `#/definitions/sweep.${path}` });

/** The JSON Schema of experiment files, as an object. */
export function experimentJsonSchema(): Json {
  const paths = fieldPaths();
  const definitions: Json = {};
  for (const path of paths) {
    const field = fieldSchema(path);
    if (!field) continue;
    definitions[`sweep.${path}`] = { type: 'array', minItems: 1, description: `Values of ${path}, one per point.`, items: convert(field) };
  }
  definitions['zipGroup'] = {
    type: 'object',
    description: 'A zip group: field paths to lists of equal length, taken together (value i of every list in point i), not crossed.',
    minProperties: 1,
    properties: Object.fromEntries(paths.map((p) => [p, valuesRef(p)])),
    additionalProperties: false,
  };

  const sweep = {
    type: ['object', 'null'],
    description:
      'Dotted field paths to lists of values; the points are their cartesian product, the last key varying fastest. `zip` takes lists together instead of crossing them. Maps merge through extends; `sweep: null` drops an extended file\'s sweep.',
    properties: {
      ...Object.fromEntries(paths.map((p) => [p, valuesRef(p)])),
      zip: {
        description: 'One zip group, or a list of groups, each its own dimension of the sweep.',
        anyOf: [{ $ref: '#/definitions/zipGroup' }, { type: 'array', minItems: 1, items: { $ref: '#/definitions/zipGroup' } }],
      },
    },
    additionalProperties: false,
  };

  const expect = convert(expectListSchema);
  const entry = (expect['items'] ?? {}) as Json;
  const props = (entry['properties'] ?? {}) as Record<string, Json>;
  if (props['point']) props['point'] = { ...props['point'], propertyNames: { enum: paths } };
  if (props['metric']) {
    const mapped = METRIC_MAPS.filter((m) => m !== 'events').map((m) => m.replace('.', '\\.'));
    props['metric'] = {
      description: props['metric']['description'],
      anyOf: [
        { type: 'string', enum: [...METRIC_PATHS, ...EVENT_KINDS.map((k) => `events.${k}`)] },
        { type: 'string', pattern: `^(${mapped.join('|')})\\..+$` }, // link names have dots: decode-0.rank0.nic
      ],
    };
  }
  if (props['tolerance']) props['tolerance'] = { ...props['tolerance'], minProperties: 1 };

  const main = partial(convert(experimentFileSchema)) as Json;
  const mainProps = main['properties'] as Json;
  mainProps['extends'] = {
    type: 'string',
    minLength: 1,
    description:
      'Another experiment file (relative to this one) this file deep-merges over: maps merge, lists and scalars replace. name and expect are not inherited.',
  };
  mainProps['sweep'] = sweep;
  mainProps['expect'] = expect;

  return {
    $schema: 'http://json-schema.org/draft-07/schema#',
    title: 'nixlsim experiment file',
    ...main,
    definitions,
  };
}

/** The exact text of experiments/schema.json. */
export function experimentJsonSchemaText(): string {
  return `${JSON.stringify(experimentJsonSchema(), null, 2)}\n`;
}

/** Rewrites the committed schema when it differs; returns whether it did. */
export function writeExperimentJsonSchema(root: string = projectRoot()): boolean {
  const file = join(root, SCHEMA_FILE);
  const text = experimentJsonSchemaText();
  let before: string | undefined;
  try {
    before = readFileSync(file, 'utf8');
  } catch {
    before = undefined;
  }
  if (before === text) return false;
  writeFileAtomic(join(root, 'experiments'), 'schema.json', text);
  return true;
}

// `npm run schema` (node dist/src/experiment/json-schema.js)
if (process.argv[1] !== undefined && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  console.log(writeExperimentJsonSchema() ? `${SCHEMA_FILE} updated` : `${SCHEMA_FILE} already up to date`);
}
