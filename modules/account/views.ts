import { Type, type Static } from '@sinclair/typebox';

/** A user as the contract shows them: never a password hash. The schema the routes declare, and the type the use cases return. */
export const UserView = Type.Object(
  {
    id: Type.String(),
    name: Type.String(),
    nickname: Type.Union([Type.String(), Type.Null()]),
    bio: Type.Union([Type.String(), Type.Null()]),
    createdAt: Type.String({ format: 'date-time' }),
  },
  { description: 'A user: never a password hash' },
);
export type UserView = Static<typeof UserView>;
