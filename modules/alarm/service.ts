import type { Bus } from '../../platform/bus/types.ts';
import { parserOf } from '../../platform/schema.ts';
import { AlarmOfUserRequest, alarmSubjects } from './contract/index.ts';
import type { AlarmUseCases } from './use-cases.ts';

const parseOfUser = parserOf(AlarmOfUserRequest, 'ALARM.INVALID');

/** The alarm domain on the bus. */
export function serveAlarms(bus: Bus, useCases: AlarmUseCases) {
  return bus.addService({
    name: 'alarm',
    version: '1.0.0',
    description: 'Homeshopping alarms (owner of the alarms bucket)',
    endpoints: [{ name: 'of-user', subject: alarmSubjects.ofUser, handler: async (p) => useCases.alarmSetOf(parseOfUser(p).userId) }],
  });
}
