import { Type, type Static } from 'typebox';

export const RequestComment = Type.Object({
  id: Type.Integer(),
  author: Type.String(),
  body: Type.String(),
  createdAt: Type.String(),
});
export type RequestComment = Static<typeof RequestComment>;

export const RequestCommentList = Type.Object({ items: Type.Array(RequestComment) });

export const CreateCommentBody = Type.Object(
  { body: Type.String({ minLength: 1, maxLength: 4000 }) },
  { additionalProperties: false },
);
