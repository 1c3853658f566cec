import { Type } from '@sinclair/typebox';

/** `{result, hint}`: the error body of both contracts. */
export const ErrorBody = Type.Object(
  { result: Type.String({ examples: ['Unauthorized'] }), hint: Type.String({ examples: ['USER-TOKEN header is missing'] }) },
  { description: 'Error: HTTP status text and what went wrong' },
);

/** `{}`: the homeshopping contract's success and not-found body. */
export const EmptyBody = Type.Object({}, { additionalProperties: false, description: 'Empty object' });

/** A body already rendered as JSON text. */
export const jsonResponse = (body: string, status = 200) =>
  new Response(body, { status, headers: { 'content-type': 'application/json; charset=utf-8' } });
