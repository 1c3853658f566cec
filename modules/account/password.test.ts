import { describe, expect, test } from 'bun:test';
import { genSalt, hashingLoad, hashPassword, MAX_HASHING, verifyPassword } from './password.ts';

/**
 * Werkzeug compatibility, checked against Python's own hashlib: hashes made the way Werkzeug's
 * generate_password_hash makes them verify here, and hashes made here verify the way Werkzeug's
 * check_password_hash verifies them.
 */
function python(script: string, input: unknown): unknown {
  const run = Bun.spawnSync(['python3', '-c', script], { stdin: new TextEncoder().encode(JSON.stringify(input)), stdout: 'pipe', stderr: 'pipe' });
  if (run.exitCode !== 0) throw new Error(`python3 failed: ${run.stderr.toString()}`);
  return JSON.parse(run.stdout.toString());
}

/** Werkzeug's _hash_internal for pbkdf2, with a given salt. */
const WERKZEUG_HASH = `
import hashlib, json, sys
cases = json.load(sys.stdin)
out = []
for c in cases:
    digest = hashlib.pbkdf2_hmac(c["hash"], c["password"].encode(), c["salt"].encode(), c["iterations"]).hex()
    out.append(f"pbkdf2:{c['hash']}:{c['iterations']}\${c['salt']}\${digest}")
print(json.dumps(out))
`;

/** Werkzeug's check_password_hash for pbkdf2 (method and iterations read from the string). */
const WERKZEUG_CHECK = `
import hashlib, hmac, json, sys
cases = json.load(sys.stdin)
out = []
for c in cases:
    method, salt, digest = c["stored"].split("$", 2)
    _, hash_name, iterations = method.split(":")
    mine = hashlib.pbkdf2_hmac(hash_name, c["password"].encode(), salt.encode(), int(iterations)).hex()
    out.append(hmac.compare_digest(mine, digest))
print(json.dumps(out))
`;

/** A urlsafe salt as secrets.token_urlsafe gives, and an alphanumeric one as gen_salt(16). */
const SALTS = { alphanumeric: 'aZ09bY18cX27dW36', urlsafe: 'Xy_9-Q2rT8vK_wL-' };

describe('passwords in Werkzeug format', () => {
  test('hashPassword — pbkdf2:sha256:600000, a 16-character alphanumeric salt, a 64-digit hex digest', async () => {
    const stored = await hashPassword('correct horse battery');
    expect(stored).toMatch(/^pbkdf2:sha256:600000\$[A-Za-z0-9]{16}\$[0-9a-f]{64}$/);
    expect(await verifyPassword(stored, 'correct horse battery')).toBe(true);
    expect(await verifyPassword(stored, 'correct horse batterY')).toBe(false);
  });

  test('hashPassword — two hashes of one password differ (fresh salt each time)', async () => {
    expect(await hashPassword('same password', 1000)).not.toBe(await hashPassword('same password', 1000));
  });

  test('genSalt — letters and digits only, of the length asked, every character in use', () => {
    const many = Array.from({ length: 200 }, () => genSalt()).join('');
    expect(many).toMatch(/^[A-Za-z0-9]+$/);
    expect(genSalt(5)).toHaveLength(5);
    expect(new Set(many).size).toBe(62);
  });

  test('Python → here: Werkzeug-made hashes verify, with both salt alphabets, 600000 and 50000 iterations, sha256 and sha512', async () => {
    const cases = [
      ...Object.values(SALTS).flatMap((salt) => [600000, 50000].map((iterations) => ({ hash: 'sha256', iterations, salt, password: 'pässwörd 한글 ok' }))),
      { hash: 'sha512', iterations: 50000, salt: SALTS.urlsafe, password: 'sha512 password' },
    ];
    const stored = python(WERKZEUG_HASH, cases) as string[];
    expect(stored[0]).toMatch(/^pbkdf2:sha256:600000\$aZ09bY18cX27dW36\$[0-9a-f]{64}$/);
    for (const [i, c] of cases.entries()) {
      expect({ stored: stored[i], ok: await verifyPassword(stored[i]!, c.password) }).toEqual({ stored: stored[i], ok: true });
      expect(await verifyPassword(stored[i]!, `${c.password}!`)).toBe(false);
    }
  }, 30000);

  test('here → Python: hashes made here verify with Werkzeug\'s check, with a right and a wrong password', async () => {
    const made = [await hashPassword('made in bun 123'), await hashPassword('다른 비밀번호입니다', 50000, SALTS.urlsafe)];
    const verdicts = python(WERKZEUG_CHECK, [
      { stored: made[0], password: 'made in bun 123' },
      { stored: made[1], password: '다른 비밀번호입니다' },
      { stored: made[0], password: 'made in bun 124' },
    ]);
    expect(verdicts).toEqual([true, true, false]);
  }, 30000);

  test('verifyPassword — reads Werkzeug\'s shorter methods: pbkdf2 (sha256, 600000) and pbkdf2:sha1 (600000)', async () => {
    const [full, sha1] = python(WERKZEUG_HASH, [
      { hash: 'sha256', iterations: 600000, salt: 'shortmethodsalt1', password: 'password one' },
      { hash: 'sha1', iterations: 600000, salt: 'shortmethodsalt2', password: 'password two' },
    ]) as string[];
    expect(await verifyPassword(full!.replace('pbkdf2:sha256:600000$', 'pbkdf2$'), 'password one')).toBe(true);
    expect(await verifyPassword(sha1!.replace('pbkdf2:sha1:600000$', 'pbkdf2:sha1$'), 'password two')).toBe(true);
  }, 30000);

  test("verifyPassword — reads Werkzeug 3's scrypt hashes", async () => {
    const [stored] = python(
      `
import hashlib, json, sys
c = json.load(sys.stdin)
print(json.dumps([f"scrypt:16384:8:1\${c['salt']}\${hashlib.scrypt(c['password'].encode(), salt=c['salt'].encode(), n=16384, r=8, p=1, maxmem=132*16384*8).hex()}"]))
`,
      { salt: 'scryptsaltabcdef', password: 'scrypt password' },
    ) as string[];
    expect(await verifyPassword(stored!, 'scrypt password')).toBe(true);
    expect(await verifyPassword(stored!, 'scrypt passwort')).toBe(false);
  }, 30000);

  test('verifyPassword — a stored string it cannot read matches no password', async () => {
    for (const stored of ['', 'plain', 'md5$salt$abc', 'pbkdf2:sha999:1000$s$00', 'pbkdf2:sha256:0$s$00', 'pbkdf2:sha256:x$s$00', 'pbkdf2:sha256:1:2$s$00', 'scrypt:0:8:1$s$00']) {
      expect({ stored, ok: await verifyPassword(stored, 'anything') }).toEqual({ stored, ok: false });
    }
  });
});

describe('hashing is bounded and off the event loop', () => {
  test('many verifications at once: at most MAX_HASHING derive at a time, the rest wait in order; timers keep firing; every answer right', async () => {
    const stored = await hashPassword('right password', 50_000);
    const seen: number[] = [];
    let ticks = 0;
    const timer = setInterval(() => {
      ticks++;
      seen.push(hashingLoad().running);
    }, 5);
    const started = performance.now();
    const answers = await Promise.all(Array.from({ length: 4 * MAX_HASHING + 2 }, (_, i) => verifyPassword(stored, i % 2 === 0 ? 'right password' : 'wrong password')));
    const elapsed = performance.now() - started;
    clearInterval(timer);
    expect(answers).toEqual(answers.map((_, i) => i % 2 === 0));
    expect(Math.max(...seen)).toBeLessThanOrEqual(MAX_HASHING);
    expect(Math.max(...seen)).toBeGreaterThan(0);
    expect(hashingLoad()).toEqual({ running: 0, waiting: 0 });
    // The event loop was free meanwhile: a 5 ms timer fired through most of the run.
    expect(ticks).toBeGreaterThan(elapsed / 5 / 4);
  }, 30000);
});
