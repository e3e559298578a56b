/** Request and response schema pieces every feature shares. */
import { z } from 'zod';

/** An ISO-8601 time PostgreSQL can store (years 0001-9999). */
export const instant = z.iso
  .datetime({ offset: true })
  .refine((t) => /^(000[1-9]|00[1-9]\d|0[1-9]\d\d|[1-9]\d{3})-/.test(t), 'year must be 0001-9999');

export const paging = {
  page: z.coerce.number().int().min(1).default(1),
  pageSize: z.coerce.number().int().min(1).max(500).default(50),
};

export const int = z.number().int();

export const timestamp = z.string().meta({ format: 'date-time' });

/**
 * When or by whom the store recorded a change: event metadata, which reads (the read tables)
 * give. A command's answer is built from the resource's state, which does not keep it: null
 * there.
 */
export const recordedTime = timestamp
  .nullable()
  .describe("recorded with the event: null in a command's answer");
export const recordedUser = z
  .string()
  .nullable()
  .describe("recorded with the event: null in a command's answer");

/** The event position a command's answer carries. */
export const position = z
  .string()
  .nullable()
  .describe(
    'Event position of the change (also in X-Event-Position); null when nothing changed. ' +
      'Pass it as minPosition to read your own write.',
  );

/** A page of items of a list query. */
export const page = <T extends z.ZodType>(item: T, what: string) =>
  z
    .strictObject({
      items: z.array(item),
      page: int,
      pageSize: int,
      total: int,
    })
    .describe(`A page of ${what}`);

/** A path parameter naming a resource by an opaque id (an unknown one answers 404). */
export const idParams = <N extends string>(name: N, description: string, example: string) =>
  z.object({
    [name]: z
      .string()
      .describe(description)
      .meta({ examples: [example] }),
  }) as z.ZodObject<Record<N, z.ZodString>>;
