import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Kysely } from 'kysely';
import { openDatabase, type ModuleDatabase } from '../../platform/data/db.ts';
import { DomainError } from '../../platform/errors.ts';
import { createLogger } from '../../platform/observability/log.ts';
import type { DeliveredEvent } from '../../platform/bus/index.ts';
import type { Caller } from '../account/contract/index.ts';
import { feedEvents } from '../feed/contract/index.ts';
import { migrations } from './migrations.ts';
import type { NotificationDatabase } from './schema.ts';
import { notificationUseCases } from './use-cases.ts';

/** The notification rules, on the module's own embedded database, from feed events as they come. */
const log = createLogger({ test: 'notification' });
const dir = mkdtempSync(join(tmpdir(), 'notification-'));
let database: ModuleDatabase;
let notes: ReturnType<typeof notificationUseCases>;
let seq = 0;
let nextPost = 1;

const me = (id: string): Caller => ({ id, admin: false });
const event = (subject: string, payload: Record<string, unknown>, eventId = `ev-${++seq}`): DeliveredEvent => ({
  subject,
  msgId: eventId,
  seq,
  attempt: 1,
  payload: { eventId, at: new Date(Date.UTC(2026, 11, 1, 0, 0, seq)).toISOString(), ...payload },
});
const commented = (postId: number, postOwner: string, actor: string, eventId?: string) => event(feedEvents.commented, { postId, postOwner, actor, commentId: ++seq }, eventId);
const reacted = (postId: number, postOwner: string, actor: string, first: boolean) => event(feedEvents.postReacted, { postId, postOwner, actor, type: 2, first });
const deleted = (postId: number, postOwner: string) => event(feedEvents.postDeleted, { postId, postOwner });
const list = async (user: string) => (await notes.list(me(user), { limit: 100, after: undefined }, undefined)).items;

beforeAll(async () => {
  database = await openDatabase({ module: 'notification', url: undefined, dataDir: dir, migrations, log });
  notes = notificationUseCases({
    db: database.db as Kysely<NotificationDatabase>,
    account: (id) => ({ id, name: id.toUpperCase(), nickname: null, admin: false, tokenVersion: 0 }),
  });
}, 60000);

afterAll(async () => {
  await database?.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('notification rules', () => {
  test("a comment by someone else on my post is a type-1 notification naming the actor; my own comment is none", async () => {
    const post = nextPost++;
    await notes.handle(commented(post, 'ann', 'bob'));
    await notes.handle(commented(post, 'ann', 'ann'));
    expect(await list('ann')).toMatchObject([{ type: 1, postId: post, read: false, actor: { id: 'bob', name: 'BOB', nickname: null } }]);
  });

  test('a first reaction by someone else is type 2; a changed type, and my own reaction, are none', async () => {
    const post = nextPost++;
    await notes.handle(reacted(post, 'cid', 'dan', true));
    await notes.handle(reacted(post, 'cid', 'dan', false));
    await notes.handle(reacted(post, 'cid', 'cid', true));
    expect((await list('cid')).map((n) => [n.type, n.actor.id])).toEqual([[2, 'dan']]);
  });

  test('"reacted to my post" is told once per user and post, even after the reaction is removed and given again', async () => {
    const post = nextPost++;
    await notes.handle(reacted(post, 'eve', 'fay', true));
    await notes.handle(reacted(post, 'eve', 'fay', true));
    expect(await list('eve')).toHaveLength(1);
  });

  test('an event delivered twice makes one notification', async () => {
    const post = nextPost++;
    const once = commented(post, 'gus', 'hal', 'the-same-event');
    await notes.handle(once);
    await notes.handle({ ...once, attempt: 2 });
    expect(await list('gus')).toHaveLength(1);
  });

  test('a deleted post takes its notifications along, and one about it arriving late makes none', async () => {
    const post = nextPost++;
    await notes.handle(commented(post, 'ida', 'jon'));
    await notes.handle(deleted(post, 'ida'));
    await notes.handle(commented(post, 'ida', 'kim'));
    expect(await list('ida')).toEqual([]);
  });

  test('newest first with the unread count; one marked read, then all; 404 for one that is not mine', async () => {
    const post = nextPost++;
    for (const actor of ['lea', 'max', 'ned']) await notes.handle(commented(post, 'owl', actor));
    const items = await list('owl');
    expect(items.map((n) => n.actor.id)).toEqual(['ned', 'max', 'lea']);
    expect((await notes.list(me('owl'), { limit: 2, after: undefined }, undefined)).unreadCount).toBe(3);
    await notes.markRead(me('owl'), items[0]!.id);
    expect((await notes.list(me('owl'), { limit: 100, after: undefined }, false)).items.map((n) => n.actor.id)).toEqual(['max', 'lea']);
    expect((await notes.list(me('owl'), { limit: 100, after: undefined }, true)).items.map((n) => n.actor.id)).toEqual(['ned']);
    const error = await notes.markRead(me('someone-else'), items[1]!.id).catch((e) => e);
    expect(error instanceof DomainError && error.code).toBe('NOTIFICATION.NOT_FOUND');
    expect(await notes.markAllRead(me('owl'))).toEqual({ count: 2 });
    expect(await notes.unreadCount('owl')).toBe(0);
  });

  test('an event of a kind it does not know is acknowledged and makes nothing', async () => {
    await notes.handle(event('events.feed.something-new', { postId: 1, postOwner: 'pat' }));
    expect(await list('pat')).toEqual([]);
  });
});
