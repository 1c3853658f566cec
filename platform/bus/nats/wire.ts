import { DomainError } from '../../errors.ts';

/** What every part of the NATS bus sends and reads: JSON bodies, BUS.UNAVAILABLE, bounded waits. */
const enc = new TextEncoder();
const dec = new TextDecoder();
export const encode = (v: unknown) => enc.encode(JSON.stringify(v ?? null));
export const decode = (data: Uint8Array): unknown => (data.length === 0 ? null : JSON.parse(dec.decode(data)));
export const EMPTY = new Uint8Array(0);

export const unavailable = (what: string) => new DomainError('BUS.UNAVAILABLE', `NATS is not reachable (${what})`);
export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export function withTimeout<T>(p: Promise<T>, ms: number): Promise<T> {
  let timer: ReturnType<typeof setTimeout>;
  return Promise.race([
    p,
    new Promise<T>((_, reject) => (timer = setTimeout(() => reject(new Error('timeout')), ms))),
  ]).finally(() => clearTimeout(timer));
}
