import * as z from 'zod';
import { durationSchema } from '../policy/duration.js';

// The `resilience` section of a policy: timeouts (and, as they land, retries, breakers, health probes).

export const resilienceSchema = z
  .strictObject({
    timeouts: z
      .strictObject({
        first_byte: durationSchema.default(60),
        idle: durationSchema.default(30),
        total: durationSchema.default(600),
      })
      .default({ first_byte: 60, idle: 30, total: 600 }),
  })
  .default({ timeouts: { first_byte: 60, idle: 30, total: 600 } });

export type ResilienceConfig = z.output<typeof resilienceSchema>;
