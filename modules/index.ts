/**
 * Every module of the system, for the composition root (platform/main.ts) and the tests.
 * Nothing else imports a module's index.
 */
import type { ModuleDefinition } from '../platform/module.ts';
import { accountModule } from './account/index.ts';
import { alarmModule } from './alarm/index.ts';
import { feedModule } from './feed/index.ts';
import { itemModule } from './item/index.ts';
import { notificationModule } from './notification/index.ts';
import { statsModule } from './stats/index.ts';
import { userModule } from './user/index.ts';

export const allModules: readonly ModuleDefinition[] = [itemModule, alarmModule, userModule, accountModule, feedModule, notificationModule, statsModule];
