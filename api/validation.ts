import { TypeBoxValidatorCompiler } from '@fastify/type-provider-typebox';
import type { FastifySchemaCompiler, FastifySchemaValidationError } from 'fastify';
import type { TSchema } from 'typebox';

const NUMERALS = { integer: /^-?[0-9]+$/, number: /^-?[0-9]+(\.[0-9]+)?([eE][-+]?[0-9]+)?$/ } as const;

/** The properties of a query, path or header schema whose strings must be numerals. */
function numericProperties(schema: unknown): [string, keyof typeof NUMERALS][] {
  const properties = (schema as { properties?: Record<string, { type?: unknown }> }).properties ?? {};
  return Object.entries(properties).flatMap(([name, p]) =>
    p.type === 'integer' || p.type === 'number' ? [[name, p.type] as [string, keyof typeof NUMERALS]] : [],
  );
}

/**
 * TypeBox's checker, with one refusal added: TypeBox converts query, path and header strings
 * to the schema's types, and so reads `?offset=true` as 1. A number in a URL must be written
 * as a numeral; anything else is a 400 like any other invalid value.
 */
export const validatorCompiler: FastifySchemaCompiler<TSchema> = (route) => {
  const validate = TypeBoxValidatorCompiler(route);
  if (route.httpPart === 'body') return validate;
  const numeric = numericProperties(route.schema);
  if (numeric.length === 0) return validate;
  return (value: unknown) => {
    const raw = (value ?? {}) as Record<string, unknown>;
    const errors: FastifySchemaValidationError[] = [];
    for (const [name, kind] of numeric) {
      const v = raw[name];
      if (typeof v === 'string' && !NUMERALS[kind].test(v)) {
        errors.push({
          keyword: 'type',
          instancePath: `/${name}`,
          schemaPath: `#/properties/${name}/type`,
          params: { type: kind },
          message: `must be ${kind === 'integer' ? 'an integer' : 'a number'}`,
        });
      }
    }
    return errors.length > 0 ? { error: errors } : validate(value);
  };
};
