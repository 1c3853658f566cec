/**
 * The alarm domain's public contract. A user's alarm set is shared through the `alarms`
 * snapshot bucket so that other domains answer `is_alarm_set` without asking per request.
 */
import { Type, type Static } from '@sinclair/typebox';

/** Snapshot bucket: key = user id, value = AlarmSet (no key: no alarm). Owner: alarm. */
export const ALARMS_BUCKET = 'alarms';

/** The items a user has an alarm on, ascending. */
export const AlarmSet = Type.Object({
  userId: Type.Integer({ minimum: 1 }),
  itemIds: Type.Array(Type.Integer({ minimum: 1 })),
});
export type AlarmSet = Static<typeof AlarmSet>;

const NO_ALARMS: readonly number[] = [];
/** The item ids of a user's entry in the alarms bucket: none when the user has no entry. */
export const alarmedItemIds = (set: AlarmSet | undefined): readonly number[] => set?.itemIds ?? NO_ALARMS;

export const AlarmOfUserRequest = Type.Object({ userId: Type.Integer({ minimum: 1 }) });

/** Request/reply subjects served by the alarm service (NATS micro service `alarm`). */
export const alarmRequests = {
  ofUser: {
    subject: 'alarm.of-user',
    request: AlarmOfUserRequest,
    reply: AlarmSet,
    description: "The user's alarm set, item ids ascending (empty when none)",
  },
} as const;

/** The alarms bucket as copies read it: by user id; the alarm service answers while it fills. */
export const alarmsBucket = {
  bucket: ALARMS_BUCKET,
  value: AlarmSet,
  key: (userId: number) => String(userId),
  owner: { request: alarmRequests.ofUser, payload: (userId: number) => ({ userId }) },
  // (a user the bucket lacks has no alarms)
  missingMeansNone: true,
};
