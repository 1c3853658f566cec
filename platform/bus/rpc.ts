import type { Static, TSchema } from '@sinclair/typebox';
import { DomainError } from '../errors.ts';
import { parserOf } from './schema.ts';
import type { Bus, EndpointSpec, ServiceHandle } from './types.ts';

/**
 * A request/reply subject as a contract declares it: the subject, what the request holds and
 * what the reply holds. Contracts write these as plain objects (a contract imports nothing of
 * the platform); `serve` and `call` check both directions against them.
 */
export interface RequestDescriptor<Req extends TSchema = TSchema, Rep extends TSchema = TSchema> {
  subject: string;
  request: Req;
  reply: Rep;
  description: string;
}

export interface BoundEndpoint {
  descriptor: RequestDescriptor;
  handler: (request: never) => Promise<unknown>;
}

/** Binds a handler to a contract's request descriptor (typed both ways). */
export function endpoint<Req extends TSchema, Rep extends TSchema>(
  descriptor: RequestDescriptor<Req, Rep>,
  handler: (request: Static<Req>) => Promise<Static<Rep>>,
): BoundEndpoint {
  return { descriptor, handler: handler as BoundEndpoint['handler'] };
}

/**
 * Serves a domain's endpoints as one NATS micro service. Each request is checked against its
 * schema (a bad one is `<SERVICE>.INVALID`, 400), each reply too before it leaves (a handler
 * that breaks its contract is a 500 here, never a surprise at the caller). The schemas are the
 * endpoints' metadata: `nats micro info <service>` shows them.
 */
export function serve(bus: Bus, service: { name: string; version: string; description: string }, endpoints: BoundEndpoint[]): Promise<ServiceHandle> {
  const invalid = `${service.name.toUpperCase()}.INVALID`;
  return bus.addService({
    ...service,
    endpoints: endpoints.map(({ descriptor, handler }): EndpointSpec => {
      const parseRequest = parserOf(descriptor.request, invalid);
      const checkReply = parserOf(descriptor.reply, `${service.name.toUpperCase()}.INTERNAL`);
      return {
        name: descriptor.subject.slice(descriptor.subject.indexOf('.') + 1),
        subject: descriptor.subject,
        metadata: {
          description: descriptor.description,
          request: JSON.stringify(descriptor.request),
          reply: JSON.stringify(descriptor.reply),
        },
        handler: async (payload) => checkReply(await handler(parseRequest(payload) as never)),
      };
    }),
  });
}

const callParsers = new WeakMap<RequestDescriptor, { request: (v: unknown) => unknown; reply: (v: unknown) => unknown }>();

/**
 * Asks the owner of a request descriptor. The payload is checked before it leaves, the reply
 * when it comes back; the reply is the contract's type.
 */
export async function call<Req extends TSchema, Rep extends TSchema>(
  bus: Bus,
  descriptor: RequestDescriptor<Req, Rep>,
  payload: Static<Req>,
  options: { timeoutMs?: number } = {},
): Promise<Static<Rep>> {
  let parsers = callParsers.get(descriptor);
  if (!parsers) callParsers.set(descriptor, (parsers = { request: parserOf(descriptor.request, 'BUS.INVALID'), reply: parserOf(descriptor.reply, 'BUS.INTERNAL') }));
  const reply = await bus.request(descriptor.subject, parsers.request(payload), options);
  try {
    return parsers.reply(reply) as Static<Rep>;
  } catch (error) {
    throw new DomainError('BUS.INTERNAL', `${descriptor.subject} answered outside its contract: ${(error as Error).message}`);
  }
}
