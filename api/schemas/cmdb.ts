import { Type } from 'typebox';
import { DeviceView } from './devices.js';

const Nullable = <T extends ReturnType<typeof Type.String>>(schema: T) => Type.Union([schema, Type.Null()]);

export const CiRelationship = Type.Object({
  type: Type.String({ description: 'installed_on, used_by' }),
  source: Type.String(),
  target: Type.String(),
  requestId: Nullable(Type.String()),
  createdAt: Type.String(),
});

export const CiView = Type.Object({
  id: Type.String({ description: 'e.g. LAPTOP-ALICE, SW-LAPTOP-ALICE-visio, HW-MON-0042' }),
  class: Type.Union([
    Type.Literal('computer'),
    Type.Literal('software_install'),
    Type.Literal('hardware_asset'),
  ]),
  name: Type.String(),
  attributes: Type.Record(
    Type.String(),
    Type.Union([Type.String(), Type.Number(), Type.Boolean(), Type.Null()]),
  ),
  createdAt: Type.String(),
  updatedAt: Type.String(),
  relationships: Type.Array(CiRelationship),
});

export const PersonCisView = Type.Object({
  userId: Type.String(),
  devices: Type.Array(
    Type.Object({
      id: Type.String(),
      name: Type.String(),
      platform: Type.String(),
      state: DeviceView.properties.state,
    }),
  ),
  assets: Type.Array(
    Type.Object({
      ciId: Type.String({ description: 'The hardware asset CI, HW-<asset tag>' }),
      name: Type.String(),
      assetTag: Nullable(Type.String()),
      requestId: Nullable(Type.String({ description: 'The request that delivered it' })),
      deliveredAt: Nullable(Type.String()),
    }),
    { description: 'Hardware delivered to the person (resource requests)' },
  ),
});
