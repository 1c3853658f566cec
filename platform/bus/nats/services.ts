import { headers as natsHeaders, type Service } from 'nats';
import { databaseError, DomainError, httpStatusOf } from '../../errors.ts';
import { inbound, outgoingHeaders } from '../../observability/request-context.ts';
import type { ServiceHandle, ServiceSpec } from '../types.ts';
import type { Connection } from './connection.ts';
import { decode, encode, unavailable } from './wire.ts';

/** Request/reply through the services (micro) API: errors travel in its error headers. */
export class Services {
  private readonly services: { spec: ServiceSpec; service?: Service }[] = [];

  constructor(private readonly c: Connection) {}

  async add(spec: ServiceSpec): Promise<ServiceHandle> {
    const entry: { spec: ServiceSpec; service?: Service } = { spec };
    this.services.push(entry);
    if (this.c.nc) await this.start(entry);
    return {
      stop: async () => {
        this.services.splice(this.services.indexOf(entry), 1);
        await entry.service?.stop().catch(() => {});
      },
    };
  }

  /** Serves every service asked for before the first connection. */
  async startAll() {
    for (const s of this.services) await this.start(s);
  }

  async stopAll() {
    for (const s of this.services) await s.service?.stop().catch(() => {});
  }

  private async start(entry: { spec: ServiceSpec; service?: Service }) {
    const { spec } = entry;
    const { log } = this.c;
    const service = await this.c.nc!.services.add({ name: spec.name, version: spec.version, description: spec.description, queue: 'q' });
    for (const e of spec.endpoints) {
      service.addEndpoint(e.name, {
        subject: this.c.subject(e.subject),
        queue: 'q',
        metadata: e.metadata,
        // One callback per message: a failing message never ends the endpoint.
        handler: (err, msg) => {
          if (err) {
            log.warn('service endpoint error', { subject: e.subject, error: err });
            return;
          }
          void (async () => {
            try {
              const payload = decode(msg.data);
              const reply = await inbound('request', e.subject, (name) => msg.headers?.get(name), log, () => e.handler(payload));
              msg.respond(encode(reply));
            } catch (thrown) {
              // A database that cannot serve is a 503 to the caller too, not an internal error.
              const error = databaseError(thrown);
              if (error instanceof DomainError) {
                msg.respondError(httpStatusOf[error.kind], `${error.code}: ${error.message}`);
              } else if (error instanceof SyntaxError) {
                msg.respondError(400, `BUS.INVALID: payload is not JSON`);
              } else {
                log.error('service handler failed', { subject: e.subject, error: error as Error });
                msg.respondError(500, `BUS.INTERNAL: ${(error as Error)?.message ?? 'internal error'}`);
              }
            }
          })();
        },
      });
    }
    entry.service = service;
  }

  async request<T>(subject: string, payload: unknown, options: { timeoutMs?: number } = {}): Promise<T> {
    const { nc } = this.c;
    if (!this.c.connected || !nc) throw unavailable(`request ${subject}`);
    const timeout = options.timeoutMs ?? 2000;
    let msg;
    try {
      msg = await nc.request(this.c.subject(subject), encode(payload), { timeout, headers: headersOf(outgoingHeaders()) });
    } catch (error) {
      const code = (error as { code?: string }).code;
      if (code === '503') throw new DomainError('BUS.NO_RESPONDERS', `no service answers ${subject}`);
      if (code === 'TIMEOUT') throw new DomainError('BUS.TIMEOUT', `${subject} did not answer within ${timeout} ms`);
      throw unavailable(`request ${subject}: ${(error as Error).message}`);
    }
    const errorCode = msg.headers?.get('Nats-Service-Error-Code');
    if (errorCode) {
      const description = msg.headers?.get('Nats-Service-Error') ?? '';
      const m = /^([A-Z_]+\.[A-Z_]+): ([\s\S]*)$/.exec(description);
      throw new DomainError(m ? m[1]! : 'BUS.INTERNAL', m ? m[2]! : description);
    }
    return decode(msg.data) as T;
  }
}

/** NATS headers from a record; none at all when it is empty (most background traffic). */
function headersOf(record: Record<string, string>) {
  let h: ReturnType<typeof natsHeaders> | undefined;
  for (const [k, v] of Object.entries(record)) (h ??= natsHeaders()).set(k, v);
  return h;
}
