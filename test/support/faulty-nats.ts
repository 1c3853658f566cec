/**
 * A NATS cluster every connection of which goes through a fault proxy of the test's
 * (test/support/fault-proxy.ts): one in front of each node for each process (the process's
 * NATS_URL lists its own, one per node), and one for each route from a node to another (each
 * node's `--routes`). So a process can be blackholed or cut from NATS, one node cut off from its
 * peers while clients still reach it, and a process made to use a given node.
 */
import { FaultProxy, type FaultMode } from './fault-proxy.ts';
import { eventually, NatsCluster } from './split.ts';

export class FaultyNats {
  /** The route proxies, by `<from>><to>`. */
  private readonly routes = new Map<string, FaultProxy>();
  /** Each process's proxies, by node. */
  private readonly clients = new Map<string, Map<string, FaultProxy>>();
  readonly cluster: NatsCluster;

  private constructor(size: number) {
    this.cluster = new NatsCluster(size, undefined, { route: (from, to) => this.routes.get(`${from}>${to}`)!.address });
  }

  /** A cluster of `size` nodes, started, with proxies for each of `processes`. */
  static async start(processes: readonly string[], size = 3): Promise<FaultyNats> {
    const nats = new FaultyNats(size);
    const { nodes } = nats.cluster;
    try {
      for (const from of nodes) for (const to of nodes) if (from !== to) nats.routes.set(`${from.name}>${to.name}`, await FaultProxy.start(to.clusterPort));
      for (const process of processes) {
        const byNode = new Map<string, FaultProxy>();
        for (const node of nodes) byNode.set(node.name, await FaultProxy.start(node.port));
        nats.clients.set(process, byNode);
      }
      await nats.cluster.start();
    } catch (error) {
      await nats.destroy();
      throw error;
    }
    return nats;
  }

  /** The cluster's own URL (every node, no proxy): what the test's own connection uses. */
  get url() {
    return this.cluster.url;
  }

  /** `process`'s NATS_URL: its proxy in front of each node. */
  natsUrl(process: string): string {
    return [...this.proxiesOf(process).values()].map((p) => `nats://${p.address}`).join(',');
  }

  /** Every proxy between `process` and NATS to `mode`. */
  setProcess(process: string, mode: FaultMode) {
    for (const proxy of this.proxiesOf(process).values()) proxy.mode = mode;
  }

  /** Every route to or from `node` to `mode` (`cut`: the node is partitioned from its peers; clients still reach it). */
  setRoutesOf(node: string, mode: FaultMode) {
    for (const [pair, proxy] of this.routes) if (pair.split('>').includes(node)) proxy.mode = mode;
  }

  /** Every proxy passes again. */
  heal() {
    for (const proxy of this.proxies()) proxy.mode = 'pass';
  }

  /** The node `process` is connected through now, if one. */
  nodeOf(process: string): string | undefined {
    return [...this.proxiesOf(process)].find(([, proxy]) => proxy.inUse > 0)?.[0];
  }

  /**
   * Makes `process` use `node`: its other proxies cut until it has reconnected through that
   * node's, then passing again (a connected client stays where it is).
   */
  async placeOn(process: string, node: string, ms = 30000) {
    for (const [name, proxy] of this.proxiesOf(process)) proxy.mode = name === node ? 'pass' : 'cut';
    try {
      await eventually(() => this.nodeOf(process) === node, ms, `${process} connected through ${node}`);
    } finally {
      this.setProcess(process, 'pass');
    }
  }

  async destroy() {
    await this.cluster.destroy();
    for (const proxy of this.proxies()) await proxy.stop();
  }

  private proxiesOf(process: string) {
    const byNode = this.clients.get(process);
    if (!byNode) throw new Error(`no proxies for ${process}`);
    return byNode;
  }

  private proxies(): FaultProxy[] {
    return [...this.routes.values(), ...[...this.clients.values()].flatMap((byNode) => [...byNode.values()])];
  }
}
