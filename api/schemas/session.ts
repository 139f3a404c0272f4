import { Type } from 'typebox';

export const SessionUser = Type.Object({
  id: Type.String(),
  name: Type.String(),
  roleId: Type.String(),
  groups: Type.Array(Type.String(), { description: 'Fulfillment and other groups the person is in' }),
  isOperator: Type.Boolean(),
});

export const SessionView = Type.Object({
  user: Type.Union([SessionUser, Type.Null()], { description: 'Who is signed in; null: nobody' }),
  signIn: Type.Object({
    dev: Type.Boolean({ description: 'Dev mode: POST /api/dev/session signs in a demo person' }),
    oidc: Type.Boolean({
      description: "GET /api/session/oidc/login signs in at the organisation's OpenID provider",
    }),
  }),
});
