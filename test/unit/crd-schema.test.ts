// The CRD in crds/ and the zod spec schema every function validates with say the same: fields,
// types, enums, defaults and bounds. The CRD turns a bad CR away at `kubectl apply`; the schema is
// what the reconcile holds a stored CR to; neither may accept what the other refuses unnoticed.
// What a structural CRD cannot express is left out on both sides, each named below.
import { readFileSync } from 'node:fs';
import { load } from 'js-yaml';
import * as z from 'zod';
import * as zm from 'zod/mini';
import { describe, expect, it } from 'vitest';
import { kindCustomHttpSpecSchema } from '../../functions/core/kindcustomhttp.js';

type Schema = Record<string, unknown>;

const CRD_PATH = new URL('../../crds/groupsp.measutosh.dev_kindcustomhttps.yaml', import.meta.url);

function crdSpecSchema(): Schema {
  const crd = load(readFileSync(CRD_PATH, 'utf8')) as { spec: { versions: Array<{ schema: { openAPIV3Schema: { properties: { spec: Schema } } } }> } };
  return crd.spec.versions[0]!.schema.openAPIV3Schema.properties.spec;
}

/** The zod schema as the JSON Schema of what it accepts (its input: before defaults and transforms). */
function zodSpecSchema(schema: z.core.$ZodType = kindCustomHttpSpecSchema): Schema {
  return z.toJSONSchema(schema, { io: 'input', unrepresentable: 'throw' }) as Schema;
}

const compared = ['type', 'minimum', 'maximum', 'minLength', 'maxLength', 'pattern', 'default'] as const;

/**
 * What both schemas say of a value, in one form. Left out: descriptions and formats (the bounds
 * say it), CEL rules and zod refinements (checked by their own tests), map keys' rules (a CRD has
 * no propertyNames), and `additionalProperties: false` of an object with properties (a CRD
 * prunes unknown fields rather than refusing them).
 */
function canonical(schema: Schema): Schema {
  const intOrString = schema['x-kubernetes-int-or-string'] === true || isStringOrNumber(schema.anyOf);
  if (intOrString) return { type: 'int-or-string', pattern: schema.pattern ?? (schema.anyOf as Schema[]).find((s) => s.type === 'string')?.pattern };
  const out: Schema = Object.fromEntries(compared.filter((key) => schema[key] !== undefined).map((key) => [key, schema[key]]));
  if (Array.isArray(schema.enum)) out.enum = [...(schema.enum as unknown[])].sort();
  if (schema.properties) {
    out.properties = Object.fromEntries(Object.entries(schema.properties as Record<string, Schema>).map(([key, value]) => [key, canonical(value)]));
    out.required = [...((schema.required as string[] | undefined) ?? [])].sort();
  }
  if (schema.additionalProperties && typeof schema.additionalProperties === 'object') out.values = canonical(schema.additionalProperties as Schema);
  return out;
}

function isStringOrNumber(anyOf: unknown): boolean {
  if (!Array.isArray(anyOf) || anyOf.length !== 2) return false;
  const types = (anyOf as Schema[]).map((s) => s.type).sort();
  return types[1] === 'string' && (types[0] === 'integer' || types[0] === 'number');
}

describe('the CRD and the zod spec schema', () => {
  it('agree on every field, type, enum, default and bound', () => {
    expect(canonical(crdSpecSchema())).toEqual(canonical(zodSpecSchema()));
  });

  it('would disagree if a field were added to the zod schema and not to the CRD', () => {
    const extended = zm.extend(kindCustomHttpSpecSchema, { paused: zm.optional(zm.boolean()) });
    expect(canonical(crdSpecSchema())).not.toEqual(canonical(zodSpecSchema(extended)));
  });

  it('would disagree if a bound or a default moved on one side', () => {
    const crd = crdSpecSchema() as { properties: Record<string, Schema> };
    const changed = structuredClone(crd);
    changed.properties.containerPort!.default = 8081;
    expect(canonical(changed)).not.toEqual(canonical(zodSpecSchema()));
    const looser = structuredClone(crd);
    looser.properties.replicaCount!.minimum = -1;
    expect(canonical(looser)).not.toEqual(canonical(zodSpecSchema()));
  });
});
