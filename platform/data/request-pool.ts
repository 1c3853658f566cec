import type pg from 'pg';

/**
 * The connections of a module's request paths: pg's pool behind a queue of our own, for one
 * reason — how long a request may wait for a connection.
 *
 * A fixed limit on the wait cannot tell the two reasons for a long wait apart: a burst of writes
 * (hundreds of users on one post) makes a queue that drains, and a busy machine makes a new
 * connection slow to set up — both must cost latency, never an error; a database that stopped
 * answering, or a lock that holds every connection, makes a queue that does not move, and must
 * be a 503 well within a second. So the wait is bounded by progress: a request waiting for a
 * connection (a free one, or a new one being set up) is refused once no statement of the pool has
 * been answered for `stallMs` while it waited. Under load statements are answered every few
 * milliseconds and nobody is refused; when nothing is answered (every connection waits on a lock
 * until its lock timeout, or on a database that hangs until the query timeout), the waiters are
 * refused `stallMs` after they came.
 *
 * A connection whose statement was given up by the client (pg's query_timeout: the server did
 * not answer), or that broke, is destroyed when it is released instead of being handed to the
 * next request with a statement still running on it.
 */
export class RequestPool {
  /** Idle connections of pg's pool being handed over now (pg takes them off its idle list a tick later). */
  private acquiring = 0;
  /** Connections being set up for the waiters. */
  private opening = 0;
  private readonly waiting: Waiter[] = [];
  /** When a statement on one of the pool's connections was last answered (performance.now()). */
  private answeredAt = performance.now();
  private ended = false;

  constructor(
    private readonly pool: pg.Pool,
    private readonly limits: { max: number; stallMs: number },
  ) {}

  /** What Kysely's driver reads of a pool (for its control connections). */
  get Client() {
    return (this.pool as unknown as { Client: typeof pg.Client }).Client;
  }
  get options() {
    return this.pool.options;
  }

  /**
   * Kysely's PostgresPool: a connection of the pool. An idle one at once; otherwise the request
   * waits for whichever comes first — a connection another request releases, or a new one set
   * up for it — so that a busy machine's slow connects never hold a request up while
   * connections already open are free.
   */
  connect(): Promise<pg.PoolClient> {
    if (this.ended) return Promise.reject(new Error('Cannot use a pool after calling end on the pool'));
    if (this.waiting.length === 0 && this.idle() > 0) return this.acquire();
    return new Promise<pg.PoolClient>((resolve, reject) => {
      const waiter: Waiter = { resolve, reject, stop: () => {} };
      this.waiting.push(waiter);
      waiter.stop = this.whileStalled(performance.now(), (error) => {
        const at = this.waiting.indexOf(waiter);
        if (at < 0) return;
        this.waiting.splice(at, 1);
        reject(error);
      });
      this.grow();
    });
  }

  /** Opens `count` connections now, so that a burst finds them set up. */
  async warm(count: number): Promise<void> {
    const clients = await Promise.all(Array.from({ length: count }, () => this.connect().catch(() => undefined)));
    for (const c of clients) c?.release();
  }

  async end(): Promise<void> {
    if (this.ended) return;
    this.ended = true;
    for (const w of this.waiting.splice(0)) {
      w.stop();
      w.reject(new Error('Cannot use a pool after calling end on the pool'));
    }
    await this.pool.end();
  }

  /** How many requests wait for a connection now. */
  get queued(): number {
    return this.waiting.length;
  }

  /** Idle connections of pg's pool not promised to anyone yet. */
  private idle(): number {
    return this.pool.idleCount - this.acquiring;
  }

  /** An idle connection of pg's pool (there is one: pg hands it over on the next tick). */
  private acquire(): Promise<pg.PoolClient> {
    this.acquiring++;
    return this.pool.connect().then(
      (client) => {
        this.acquiring--;
        // (pg has taken it off its idle list now: a waiter left may need a connection set up)
        if (this.waiting.length > 0) this.grow();
        return this.tracked(client);
      },
      (error: unknown) => {
        this.acquiring--;
        this.serve();
        throw error;
      },
    );
  }

  /** Hands idle connections to the waiters, oldest first, and sets up more for those left. */
  private serve() {
    while (this.waiting.length > 0 && this.idle() > 0) {
      const next = this.waiting.shift()!;
      next.stop();
      this.acquire().then(next.resolve, next.reject);
    }
    this.grow();
  }

  /**
   * Sets up a connection for each waiter no connection being set up is meant for, within the
   * pool's size; each goes to the oldest waiter when it is ready (to pg's idle list when nobody
   * waits any more). A connect that fails fails the oldest waiter (a refused connect is refused
   * at once), and the others get connects of their own.
   */
  private grow() {
    // (never while pg holds idle connections: its queue would hand one to this connect instead)
    while (!this.ended && this.opening < this.waiting.length && this.pool.idleCount === 0 && this.pool.totalCount < this.limits.max) {
      this.opening++;
      this.pool.connect().then(
        (client) => {
          this.opening--;
          const next = this.waiting.shift();
          if (!next) return client.release();
          next.stop();
          next.resolve(this.tracked(client));
        },
        (error: Error) => {
          this.opening--;
          const next = this.waiting.shift();
          next?.stop();
          next?.reject(error);
          this.grow();
        },
      );
    }
  }

  /**
   * Calls `refuse` once no statement has been answered for stallMs since `since` (or since the
   * last answer, when one came meanwhile). Returns the function that stops watching.
   */
  private whileStalled(since: number, refuse: (error: Error) => void): () => void {
    let timer: ReturnType<typeof setTimeout> | undefined;
    let immediate: ReturnType<typeof setImmediate> | undefined;
    const due = () => Math.max(since, this.answeredAt) + this.limits.stallMs;
    const check = () => {
      if (due() > performance.now()) {
        timer = setTimeout(check, Math.max(1, due() - performance.now()));
        return;
      }
      // Timers run before the event loop reads its sockets: a process that was itself starved
      // of CPU (a busy machine) may hold answers it has not read yet. Read them first.
      immediate = setImmediate(() => {
        if (due() > performance.now()) return check();
        refuse(new Error(`timeout exceeded when trying to connect: no statement of this pool was answered for ${this.limits.stallMs} ms`));
      });
    };
    timer = setTimeout(check, this.limits.stallMs);
    return () => {
      clearTimeout(timer);
      clearImmediate(immediate);
    };
  }

  /** The client with its answers counted as progress, and destroyed on release when broken. */
  private tracked(client: pg.PoolClient): pg.PoolClient {
    const state = client as pg.PoolClient & { [TRACKED]?: { broken: boolean } };
    if (!state[TRACKED]) {
      const mark = { broken: false };
      state[TRACKED] = mark;
      const query = client.query.bind(client) as (...args: unknown[]) => Promise<unknown>;
      (client as { query: unknown }).query = (...args: unknown[]) =>
        query(...args).then(
          (result) => {
            this.answeredAt = performance.now();
            return result;
          },
          (error: unknown) => {
            const code = (error as { code?: unknown }).code;
            // No SQLSTATE: the client gave up (a read timeout) or the connection broke — it is
            // not used again. A refusal the server decided (a constraint) is an answer; a
            // statement or lock timeout, a lost session or exhausted resources are not.
            if (typeof code !== 'string') mark.broken = true;
            else if (!NO_PROGRESS.test(code)) this.answeredAt = performance.now();
            else if (/^(08|57P)/.test(code)) mark.broken = true;
            throw error;
          },
        );
      client.on('error', () => (mark.broken = true));
    }
    const mark = state[TRACKED]!;
    let released = false;
    const release = client.release.bind(client);
    (client as { release: unknown }).release = (destroy?: boolean | Error) => {
      if (released) return;
      released = true;
      release(destroy || mark.broken ? true : undefined);
      this.serve();
    };
    return client;
  }
}

const TRACKED = Symbol('tracked');
/** SQLSTATEs that say nothing moved: statement or lock timeout, lost connection, shutdown, resources. */
const NO_PROGRESS = /^(57014|55P03|08|57P|53)/;

interface Waiter {
  resolve: (client: pg.PoolClient) => void;
  reject: (error: Error) => void;
  stop: () => void;
}
