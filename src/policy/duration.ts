import * as z from 'zod';

const DURATION_UNITS: Record<string, number> = { ms: 0.001, s: 1, m: 60, h: 3600 };

/** Seconds, written as a number of seconds or a string like "250ms", "30s", "5m", "1h". */
export const durationSchema = z.union([
  z.number().positive(),
  z
    .string()
    .regex(/^\d+(\.\d+)?(ms|s|m|h)$/, 'a duration like "250ms", "30s", "5m" or "1h"')
    .transform((v) => {
      const unit = /(ms|s|m|h)$/.exec(v)?.[1] ?? 's';
      return Number.parseFloat(v) * (DURATION_UNITS[unit] ?? 1);
    }),
]);
