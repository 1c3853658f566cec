/**
 * A TCP proxy whose way of failing is switched while it runs: what the fault suite puts between
 * each process and each NATS node, and between two nodes of a cluster.
 *
 * - `pass`: forwards both ways.
 * - `blackhole`: keeps every connection open and takes new ones, but forwards nothing either way.
 *   Nothing is read meanwhile (not even a close), so an end notices only by its own timeouts
 *   (NATS pings); what was sent is carried once the proxy passes again, as TCP carries it across
 *   a partition that heals before either end gave up.
 * - `cut`: closes every connection, and every new one as soon as it is made (to the client it is
 *   a refused connection; the port stays bound, so nothing else can take it meanwhile).
 */
import net from 'node:net';

export type FaultMode = 'pass' | 'blackhole' | 'cut';

/** One client connection and the proxy's own connection to the target. */
interface Link {
  client: net.Socket;
  upstream: net.Socket;
  /** Bytes carried each way: a link that carried both ways is one the two ends use. */
  sent: number;
  received: number;
}

export class FaultProxy {
  private current: FaultMode = 'pass';
  private readonly links = new Set<Link>();

  private constructor(
    private readonly server: net.Server,
    readonly port: number,
    /** The port forwarded to (on 127.0.0.1). */
    readonly target: number,
  ) {}

  /** A proxy on a port of its own in front of `127.0.0.1:target`, passing. */
  static async start(target: number): Promise<FaultProxy> {
    let proxy: FaultProxy | undefined;
    const server = net.createServer((client) => proxy!.accept(client));
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(0, '127.0.0.1', () => resolve());
    });
    proxy = new FaultProxy(server, (server.address() as net.AddressInfo).port, target);
    return proxy;
  }

  /** `127.0.0.1:<port>`: where a client or a route is told to connect. */
  get address() {
    return `127.0.0.1:${this.port}`;
  }

  get mode(): FaultMode {
    return this.current;
  }

  set mode(mode: FaultMode) {
    this.current = mode;
    for (const link of this.links) this.apply(link);
  }

  /** Connections that carried bytes both ways and are open: in use by both ends. */
  get inUse(): number {
    return [...this.links].filter((l) => l.sent > 0 && l.received > 0).length;
  }

  async stop() {
    this.mode = 'cut';
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private accept(client: net.Socket) {
    if (this.current === 'cut') {
      client.destroy();
      return;
    }
    const upstream = net.connect(this.target, '127.0.0.1');
    const link: Link = { client, upstream, sent: 0, received: 0 };
    this.links.add(link);
    client.on('data', (chunk) => {
      link.sent += chunk.length;
      upstream.write(chunk);
    });
    upstream.on('data', (chunk) => {
      link.received += chunk.length;
      client.write(chunk);
    });
    // A close or an error at one end closes the other; nothing of it is seen while blackholed,
    // since neither socket is read then.
    client.on('end', () => upstream.end());
    upstream.on('end', () => client.end());
    const close = () => {
      this.links.delete(link);
      client.destroy();
      upstream.destroy();
    };
    for (const socket of [client, upstream]) {
      socket.on('close', close);
      socket.on('error', close);
    }
    this.apply(link);
  }

  private apply(link: Link) {
    if (this.current === 'cut') {
      link.client.destroy();
      link.upstream.destroy();
    } else if (this.current === 'blackhole') {
      link.client.pause();
      link.upstream.pause();
    } else {
      link.client.resume();
      link.upstream.resume();
    }
  }
}
