import { Type } from 'typebox';
import { REQUEST_TYPES } from '../../domain/status.js';

export const CatalogItem = Type.Object({
  id: Type.String(),
  name: Type.String(),
  type: Type.Enum(REQUEST_TYPES),
  description: Type.String(),
  sensitivity: Type.Enum(['normal', 'sensitive']),
  changeModel: Type.Union([Type.Enum(['standard', 'normal']), Type.Null()]),
  allowedRoles: Type.Union([Type.Array(Type.String()), Type.Null()]),
  /** Whether the caller's role may order it. */
  entitled: Type.Boolean(),
  formFields: Type.Array(
    Type.Object({
      name: Type.String(),
      label: Type.String(),
      type: Type.Enum(['text', 'textarea', 'device']),
      required: Type.Boolean(),
    }),
  ),
});
