import { pbkdf2 as pbkdf2Callback, scrypt as scryptCallback, timingSafeEqual } from 'node:crypto';
import { availableParallelism } from 'node:os';

/**
 * Passwords in Werkzeug's `generate_password_hash` format, `<method>$<salt>$<hex digest>`:
 * hashes made here verify in a Flask implementation and the other way round.
 *
 * - new hashes: `pbkdf2:sha256:600000$<16 letters/digits>$<64 hex>` (what the contract asks);
 * - verification reads the method from the stored string: `pbkdf2:<sha1|sha256|sha512>[:<n>]`
 *   (Werkzeug's defaults when parts are left out) and Werkzeug 3's `scrypt:<n>:<r>:<p>`, with
 *   any salt — Werkzeug hashes the salt's UTF-8 bytes, whatever alphabet made it;
 * - the digest comparison is constant-time;
 * - the key derivation runs on libuv's thread pool (node:crypto's async pbkdf2 and scrypt), never
 *   on the event loop, and at most MAX_HASHING at once: a burst of logins queues here instead of
 *   taking every core from the requests that need none (bench/hash-burst.ts: `GET /post` p99
 *   during 50 concurrent logins).
 */
const DEFAULT_ITERATIONS = 600_000;
const SALT_CHARS = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';
const HASHES: Record<string, { bytes: number }> = {
  sha1: { bytes: 20 },
  sha256: { bytes: 32 },
  sha512: { bytes: 64 },
};
const utf8 = new TextEncoder();

/**
 * Key derivations at once, per process: all the cores but one (at least one), so the event loop
 * always has a core of its own.
 */
export const MAX_HASHING = Math.max(1, availableParallelism() - 1);
let hashing = 0;
const waitingToHash: (() => void)[] = [];

/** Runs `derive` when fewer than MAX_HASHING derivations run; in order of arrival. */
async function bounded<T>(derive: () => Promise<T>): Promise<T> {
  if (hashing >= MAX_HASHING) await new Promise<void>((resolve) => waitingToHash.push(resolve));
  else hashing++;
  try {
    return await derive();
  } finally {
    const next = waitingToHash.shift();
    // The slot passes straight to the next in line (the count stays), or is given back.
    if (next) next();
    else hashing--;
  }
}

/** How many derivations run and wait now (for tests and metrics). */
export const hashingLoad = () => ({ running: hashing, waiting: waitingToHash.length });

/** Werkzeug's gen_salt: `length` characters of letters and digits, from a CSPRNG, unbiased. */
export function genSalt(length = 16): string {
  let out = '';
  while (out.length < length) {
    for (const byte of crypto.getRandomValues(new Uint8Array(length * 2))) {
      // 62 * 4 = 248: bytes from 248 up would favour the first letters.
      if (byte < 248 && out.length < length) out += SALT_CHARS[byte % 62];
    }
  }
  return out;
}

function pbkdf2Hex(password: string, salt: string, hash: string, iterations: number): Promise<string> {
  return bounded(
    () =>
      new Promise((resolve, reject) =>
        pbkdf2Callback(utf8.encode(password), utf8.encode(salt), iterations, HASHES[hash]!.bytes, hash, (error, key) => (error ? reject(error) : resolve(key.toString('hex')))),
      ),
  );
}

function scryptHex(password: string, salt: string, n: number, r: number, p: number): Promise<string> {
  return bounded(
    () =>
      new Promise((resolve, reject) =>
        scryptCallback(password, salt, 64, { N: n, r, p, maxmem: 132 * n * r * p }, (error, key) => (error ? reject(error) : resolve(key.toString('hex')))),
      ),
  );
}

/** `pbkdf2:sha256:600000$<salt>$<hex>`. */
export async function hashPassword(password: string, iterations = DEFAULT_ITERATIONS, salt = genSalt()): Promise<string> {
  return `pbkdf2:sha256:${iterations}$${salt}$${await pbkdf2Hex(password, salt, 'sha256', iterations)}`;
}

/** The digest `stored`'s method and salt give for `password`; null for a method we do not read. */
async function digestFor(stored: string, password: string): Promise<{ expected: string; actual: string } | null> {
  const first = stored.indexOf('$');
  const second = stored.indexOf('$', first + 1);
  if (first < 0 || second < 0) return null;
  const method = stored.slice(0, first);
  const salt = stored.slice(first + 1, second);
  const expected = stored.slice(second + 1);
  const parts = method.split(':');
  if (parts[0] === 'pbkdf2') {
    const hash = parts[1] ?? 'sha256';
    const iterations = parts[2] === undefined ? DEFAULT_ITERATIONS : Number(parts[2]);
    if (!HASHES[hash] || parts.length > 3 || !Number.isSafeInteger(iterations) || iterations < 1) return null;
    return { expected, actual: await pbkdf2Hex(password, salt, hash, iterations) };
  }
  if (parts[0] === 'scrypt') {
    const [n, r, p] = [parts[1] ?? '32768', parts[2] ?? '8', parts[3] ?? '1'].map(Number) as [number, number, number];
    if (parts.length > 4 || ![n, r, p].every((v) => Number.isSafeInteger(v) && v > 0)) return null;
    return { expected, actual: await scryptHex(password, salt, n, r, p) };
  }
  return null;
}

/** True when `password` is the one `stored` was made from. */
export async function verifyPassword(stored: string, password: string): Promise<boolean> {
  const digests = await digestFor(stored, password);
  if (!digests) return false;
  const a = Buffer.from(digests.actual, 'utf8');
  const b = Buffer.from(digests.expected.toLowerCase(), 'utf8');
  return a.length === b.length && timingSafeEqual(a, b);
}
