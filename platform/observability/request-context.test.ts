import { describe, expect, test } from 'bun:test';
import { PortRoutes } from '../http/routes.ts';
import type { Logger } from './log.ts';
import { countLocalAnswers, markLocal, observe } from './request-context.ts';

const quiet: Logger = { debug() {}, info() {}, warn() {}, error() {}, child: () => quiet };
const routes = new PortRoutes(() => [{ method: 'GET', path: '/item/:id' }]);

describe('request context', () => {
  test('an app that answers two requests with one Response object: each answer has its own request id, and only the marked one says X-Consistency: local', async () => {
    const shared = new Response('{}', { headers: { 'content-type': 'application/json' } });
    const handler = observe(async (request) => {
      if (request.url.endsWith('/1')) markLocal('copy-not-vouched');
      return shared;
    }, { routes, log: quiet });
    const counted: string[] = [];
    countLocalAnswers((reason) => counted.push(reason));
    const first = await handler(new Request('http://x/item/1', { headers: { 'x-request-id': 'first' } }));
    const second = await handler(new Request('http://x/item/2', { headers: { 'x-request-id': 'second' } }));
    expect([first.headers.get('x-request-id'), first.headers.get('x-consistency')]).toEqual(['first', 'local']);
    expect([second.headers.get('x-request-id'), second.headers.get('x-consistency')]).toEqual(['second', null]);
    expect(second.headers.get('content-type')).toBe('application/json');
    expect(counted).toEqual(['copy-not-vouched']);
  });

  test('a traceparent received is sent back; none is made up when none came', async () => {
    const handler = observe(async () => new Response('{}'), { routes, log: quiet });
    const traceparent = '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01';
    expect((await handler(new Request('http://x/item/1', { headers: { traceparent } }))).headers.get('traceparent')).toBe(traceparent);
    expect((await handler(new Request('http://x/item/1'))).headers.get('traceparent')).toBeNull();
  });

  test('an answer whose headers cannot change (a fetch Response) is copied and stamped', async () => {
    const server = Bun.serve({ port: 0, hostname: '127.0.0.1', fetch: () => new Response('from afar', { headers: { 'x-upstream': 'yes' } }) });
    try {
      const handler = observe(() => fetch(`http://127.0.0.1:${server.port}/`), { routes, log: quiet });
      const answer = await handler(new Request('http://x/item/1', { headers: { 'x-request-id': 'relayed' } }));
      expect([answer.headers.get('x-request-id'), answer.headers.get('x-upstream'), await answer.text()]).toEqual(['relayed', 'yes', 'from afar']);
    } finally {
      server.stop(true);
    }
  });
});
