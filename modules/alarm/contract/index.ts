/**
 * The alarm domain's public contract. A user's alarm set is shared through the `alarms`
 * snapshot bucket so that other domains answer `is_alarm_set` without asking per request.
 */
import { Type, type Static } from '@sinclair/typebox';

/** Snapshot bucket: key = user id, value = AlarmSet. Owner: alarm. */
export const ALARMS_BUCKET = 'alarms';

/** The items a user has an alarm on, ascending. */
export const AlarmSet = Type.Object({
  userId: Type.Integer({ minimum: 1 }),
  itemIds: Type.Array(Type.Integer({ minimum: 1 })),
});
export type AlarmSet = Static<typeof AlarmSet>;

/** Request/reply subjects served by the alarm service (NATS micro service `alarm`). */
export const alarmSubjects = {
  /** `{userId}` → AlarmSet. */
  ofUser: 'alarm.of-user',
} as const;

export const AlarmOfUserRequest = Type.Object({ userId: Type.Integer({ minimum: 1 }) });
export type AlarmOfUserRequest = Static<typeof AlarmOfUserRequest>;
