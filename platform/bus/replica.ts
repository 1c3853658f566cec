import type { Logger } from '../log.ts';
import type { Replica, ReplicaOptions } from './types.ts';

/**
 * The local copy behind a Replica, fed by a bus-specific watcher. It keeps the last revision it
 * applied, ignores anything older (a redelivered or re-read entry), and maintains the indexes.
 */
export class LocalCopy<T> implements Replica<T> {
  private readonly data = new Map<string, T>();
  private readonly indexMaps = new Map<string, Map<string, string>>();
  private readonly listeners: ((key: string, value: T | undefined) => void)[] = [];
  private readyWaiters: (() => void)[] = [];
  private isReady = false;
  /** Highest bucket revision applied. */
  revision = 0;

  constructor(
    readonly bucket: string,
    private readonly options: ReplicaOptions<T>,
    private readonly log: Logger,
    private readonly stopImpl: () => Promise<void>,
  ) {
    for (const name of Object.keys(options.indexes ?? {})) this.indexMaps.set(name, new Map());
  }

  get ready() {
    return this.isReady;
  }

  get size() {
    return this.data.size;
  }

  markReady() {
    if (this.isReady) return;
    this.isReady = true;
    for (const w of this.readyWaiters) w();
    this.readyWaiters = [];
  }

  waitReady(timeoutMs: number): Promise<boolean> {
    if (this.isReady) return Promise.resolve(true);
    return new Promise((resolve) => {
      const timer = setTimeout(() => resolve(false), timeoutMs);
      this.readyWaiters.push(() => {
        clearTimeout(timer);
        resolve(true);
      });
    });
  }

  /** Applies one entry; `value === null` deletes. Entries at or below the applied revision are ignored. */
  apply(key: string, value: unknown, revision: number) {
    if (revision <= this.revision) return;
    this.revision = revision;
    let parsed: T | undefined;
    if (value !== null && value !== undefined) {
      try {
        parsed = this.options.parse(value);
      } catch (error) {
        this.log.warn('replica skipped an invalid value', { bucket: this.bucket, key, error });
        return;
      }
    }
    this.set(key, parsed);
  }

  /** Forgets everything: the bucket's stream was reset and will be read again from the start. */
  reset() {
    this.revision = 0;
    for (const key of [...this.data.keys()]) this.set(key, undefined);
  }

  private set(key: string, value: T | undefined) {
    const old = this.data.get(key);
    for (const [name, map] of this.indexMaps) {
      const fn = this.options.indexes![name]!;
      const oldKey = old === undefined ? undefined : fn(old);
      if (oldKey !== undefined && map.get(oldKey) === key) map.delete(oldKey);
      const newKey = value === undefined ? undefined : fn(value);
      if (newKey !== undefined) map.set(newKey, key);
    }
    if (value === undefined) this.data.delete(key);
    else this.data.set(key, value);
    for (const l of this.listeners) l(key, value);
  }

  get(key: string) {
    return this.data.get(key);
  }

  findBy(index: string, indexKey: string) {
    const key = this.indexMaps.get(index)?.get(indexKey);
    return key === undefined ? undefined : this.data.get(key);
  }

  values() {
    return this.data.values();
  }

  onChange(listener: (key: string, value: T | undefined) => void) {
    this.listeners.push(listener);
  }

  stop() {
    return this.stopImpl();
  }
}
