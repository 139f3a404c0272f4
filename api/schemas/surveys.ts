import { Type, type Static } from 'typebox';

export const SurveyScore = Type.Integer({
  minimum: 1,
  maximum: 5,
  description: '1 = very dissatisfied, 5 = very satisfied',
});

export const SurveyAnswerBody = Type.Object(
  { score: SurveyScore, comment: Type.Optional(Type.String({ maxLength: 2000 })) },
  { additionalProperties: false },
);
export type SurveyAnswerBody = Static<typeof SurveyAnswerBody>;

export const SurveyView = Type.Object({
  requestId: Type.String(),
  answered: Type.Boolean(),
  score: Type.Optional(Type.Integer()),
  comment: Type.Optional(Type.String()),
});
export type SurveyView = Static<typeof SurveyView>;

/** The survey page's form, as @fastify/formbody parses it: every value is a string. */
export const SurveyFormBody = Type.Object(
  {
    score: Type.String({ pattern: '^[1-5]$' }),
    comment: Type.Optional(Type.String({ maxLength: 2000 })),
  },
  { additionalProperties: false },
);

export const SurveyPageQuery = Type.Object({
  t: Type.Optional(
    Type.String({ maxLength: 1000, description: 'Signed survey token from the notification' }),
  ),
});
