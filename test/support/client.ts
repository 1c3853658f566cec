/**
 * The one client shape of the test harnesses, both products: per API, `call(method, path,
 * options)` → an answer, each checked where it arrives so that a failure names the request that
 * caused it. Built on the conformance kit's client (test/conformance/kit.ts); what differs per
 * product is only the header a token goes in and the answers' document.
 */
import { answerProblem } from '../conformance/openapi.ts';
import { CheckFailure, Client, describeFailure, type Answer as Exchange, type CallOptions, type ClientOptions, type Transport } from '../conformance/kit.ts';

/** An answer as the conformance kit's client has it, without the request (the caller knows it). */
export type Answer = Omit<Exchange, 'request'>;
export type { CallOptions, Exchange, Transport };

/** A request that got no answer at all (the connection refused or cut: a process killed). */
export class NoAnswer extends Error {
  override name = 'NoAnswer';
}

/** One API as a test drives it. */
export interface ApiClient {
  /**
   * Sends a request as a client would; the answer, checked (a failed check throws, naming the
   * request; a request that got no answer throws `NoAnswer`).
   */
  call(method: string, path: string, options?: CallOptions): Promise<Answer>;
  /** Sends a request exactly as given, unchecked: what the conformance kits drive, and bodies `call` cannot send. */
  transport: Transport;
}

/** The client of one API: `auth` puts a token in its headers, `inspect` says what is wrong with an answer. */
export function apiClient(transport: Transport, options: Pick<ClientOptions, 'api' | 'auth' | 'inspect' | 'observe'>): ApiClient {
  const client = new Client(transport, options);
  return {
    transport,
    async call(method, path, callOptions) {
      try {
        const { request: _, ...answer } = await client.call(method, path, callOptions);
        return answer;
      } catch (error) {
        if (!(error instanceof CheckFailure)) throw error;
        // The kit's client fails without an answer only when none came.
        if (!error.answer) throw new NoAnswer(error.message);
        // The kit's failure keeps the exchange apart; a test's failure shows it in the message.
        throw new Error(describeFailure(error));
      }
    },
  };
}

/** A transport into a handler of this process, as to http://localhost (path, query, method, headers and body kept). */
export const handlerTransport =
  (handle: (request: Request) => Promise<Response>): Transport =>
  async (request) => {
    const { pathname, search } = new URL(request.url);
    const body = request.body ? await request.arrayBuffer() : undefined;
    return handle(new Request(`http://localhost${pathname}${search}`, { method: request.method, headers: request.headers, body }));
  };

/** A value read once, on first use, and read again after a failure (a process that was down). */
export function once<T>(read: () => Promise<T>): () => Promise<T> {
  let value: Promise<T> | undefined;
  return () => (value ??= read().catch((error) => {
    value = undefined;
    throw error;
  }));
}

/**
 * What every harness holds an answer to, whatever the test asserts: no 5xx (but `tolerated`
 * ones), errors in the `{result, hint}` envelope where the product has no other error body
 * (`envelope`), and the status and body `document` declares for the route.
 */
export function inspection(rules: {
  /** The OpenAPI document the answers are held to (the port's own, read once). */
  document(): Promise<{ paths: Record<string, any> }>;
  /** A fault suite: a 5xx is what it asserts, so answers of 500 and more are not checked. */
  faults?: boolean;
  /** 5xx statuses that are no failure of the server (minifb's 503: a dependency away). */
  tolerated?: readonly number[];
  envelope?: boolean;
}): (answer: Exchange) => Promise<string | null> {
  return async ({ request, status, body }) => {
    if (status >= 500) {
      if (rules.faults) return null;
      if (!rules.tolerated?.includes(status)) return 'a 5xx';
    }
    if (rules.envelope && status >= 400 && typeof body === 'object' && Object.keys(body ?? {}).sort().join() !== 'hint,result') return 'an error without the {result, hint} envelope';
    return answerProblem(await rules.document(), { method: request.method, path: request.path, status, body });
  };
}
