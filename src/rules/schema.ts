// The rules-file language: which row changes become which of the six events, and where each payload
// field comes from. Validated with zod (unknown keys are errors) so that a typo fails at start-up
// with a path, never at the first matching row in production.

import { z } from 'zod';
import { EVENT_NAMES } from '../domain/events.js';
import { isValidTimeZone } from './time.js';

export type Scalar = string | number | boolean | null;
export type RowSide = 'new' | 'old';

/** A predicate on a row change. */
export type Condition =
  | {
      column: string;
      row?: RowSide;
      eq?: Scalar;
      ne?: Scalar;
      in?: Scalar[];
      notIn?: Scalar[];
      isNull?: boolean;
      truthy?: boolean;
    }
  | { change: 'insert' | 'update' | 'delete' }
  | { changed: string }
  | { all: Condition[] }
  | { any: Condition[] }
  | { not: Condition };

/** Where a payload value comes from. */
export type Source =
  | { column: string; row?: RowSide }
  | { const: Scalar }
  | { test: Condition }
  | { json: { column: string; path: string; row?: RowSide } }
  | { lookup: { directory: string; key: Source; column: string; level?: number } }
  | { remembered: { memory: string; key: Source } }
  | { coalesce: Source[] }
  | { secondsBetween: [Source, Source] };

const scalar = z.union([z.string(), z.number(), z.boolean(), z.null()]);
const identifier = z.string().regex(/^[A-Za-z_][A-Za-z0-9_$]*$/, 'must be a plain column or table identifier');
const qualifiedTable = z.string().regex(/^[A-Za-z_][A-Za-z0-9_$]*\.[A-Za-z_][A-Za-z0-9_$]*$/, 'must be `schema.table`');
const rowSide = z.enum(['new', 'old']);

const COLUMN_OPERATORS = ['eq', 'ne', 'in', 'notIn', 'isNull', 'truthy'] as const;

export const conditionSchema: z.ZodType<Condition> = z.lazy(() =>
  z.union([
    z
      .strictObject({
        column: identifier,
        row: rowSide.optional(),
        eq: scalar.optional(),
        ne: scalar.optional(),
        in: z.array(scalar).min(1).optional(),
        notIn: z.array(scalar).min(1).optional(),
        isNull: z.boolean().optional(),
        truthy: z.boolean().optional(),
      })
      .refine((c) => COLUMN_OPERATORS.filter((op) => c[op] !== undefined).length === 1, {
        message: `a column condition needs exactly one of: ${COLUMN_OPERATORS.join(', ')}`,
      }),
    z.strictObject({ change: z.enum(['insert', 'update', 'delete']) }),
    z.strictObject({ changed: identifier }),
    z.strictObject({ all: z.array(conditionSchema).min(1) }),
    z.strictObject({ any: z.array(conditionSchema).min(1) }),
    z.strictObject({ not: conditionSchema }),
  ]),
);

export const sourceSchema: z.ZodType<Source> = z.lazy(() =>
  z.union([
    z.strictObject({ column: identifier, row: rowSide.optional() }),
    z.strictObject({ const: scalar }),
    z.strictObject({ test: conditionSchema }),
    z.strictObject({
      json: z.strictObject({
        column: identifier,
        path: z
          .string()
          .regex(/^\$(\.[A-Za-z_][A-Za-z0-9_]*|\[\d+\])*$/, 'must be a JSON path like $.a.b or $.list[0]'),
        row: rowSide.optional(),
      }),
    }),
    z.strictObject({
      lookup: z.strictObject({
        directory: identifier,
        key: sourceSchema,
        column: identifier,
        level: z.number().int().min(1).max(16).optional(),
      }),
    }),
    z.strictObject({ remembered: z.strictObject({ memory: identifier, key: sourceSchema }) }),
    z.strictObject({ coalesce: z.array(sourceSchema).min(2) }),
    z.strictObject({ secondsBetween: z.tuple([sourceSchema, sourceSchema]) }),
  ]),
);

const directorySchema = z.strictObject({
  table: qualifiedTable,
  /** Primary-key column: identifies a row across updates and deletes. */
  key: identifier,
  /** How a reference string resolves to a row, tried in order. Default: exact match on `key`. */
  match: z
    .array(
      z.strictObject({
        column: identifier,
        /** A regular expression applied to the reference; capture group 1 is compared with `column`. */
        pattern: z
          .string()
          .refine((p) => {
            try {
              return new RegExp(p).exec('') !== undefined;
            } catch {
              return false;
            }
          }, 'must be a valid regular expression')
          .optional(),
      }),
    )
    .min(1)
    .optional(),
  /** Makes the directory a tree (for `level` lookups): the parent's key, and the value meaning "no parent". */
  parent: z.strictObject({ column: identifier, root: scalar }).optional(),
});

const simpleCondition = z
  .strictObject({ column: identifier, eq: scalar.optional(), in: z.array(scalar).min(1).optional() })
  .refine((c) => (c.eq === undefined) !== (c.in === undefined), { message: 'needs exactly one of: eq, in' });

const memorySchema = z.strictObject({
  table: qualifiedTable,
  /** Which inserted rows are remembered (must be simple so it can also become a SQL WHERE). */
  when: simpleCondition.optional(),
  key: identifier,
  value: identifier,
  maxEntries: z.number().int().min(1).max(10_000_000).default(100_000),
  /** On a miss, look the value up with a read-only SELECT (for rows written before the bridge started). */
  fallbackQuery: z.boolean().default(true),
  /** Column that orders candidate rows in the fallback query (latest wins). */
  orderBy: identifier.optional(),
});

export const ruleSchema = z.strictObject({
  /** Stable id of the rule: part of every event id it produces, so keep it once in production. */
  id: identifier.optional(),
  event: z.enum(EVENT_NAMES),
  table: qualifiedTable,
  on: z.array(z.enum(['insert', 'update', 'delete'])).min(1),
  when: conditionSchema.optional(),
  /** The event time; defaults to the binlog event's timestamp. */
  date: sourceSchema.optional(),
  /** Payload field whose value orders events (events with one key reach a URL in commit order). */
  orderKey: z.string().min(1),
  fields: z.record(z.string(), sourceSchema),
});

export const registrySchema = z.strictObject({
  table: qualifiedTable,
  key: identifier,
  eventColumn: identifier,
  urlColumn: identifier,
  /** Which rows the bridge serves (the others are left to uContact's own sender). Default: every row. */
  when: conditionSchema.optional(),
});

export const rulesFileSchema = z.strictObject({
  version: z.literal(1),
  /** Zone of the source DATETIME values (uContact stores UTC). */
  sourceTimezone: z
    .string()
    .refine(isValidTimeZone, 'must be an IANA time zone such as UTC or America/Montevideo')
    .default('UTC'),
  registry: registrySchema,
  directories: z.record(identifier, directorySchema).default({}),
  memories: z.record(identifier, memorySchema).default({}),
  rules: z.array(ruleSchema).min(1),
});

export type RulesFile = z.output<typeof rulesFileSchema>;
export type RulesFileInput = z.input<typeof rulesFileSchema>;
export type RuleDef = z.output<typeof ruleSchema>;
export type DirectoryDef = z.output<typeof directorySchema>;
export type MemoryDef = z.output<typeof memorySchema>;
export type RegistryDef = z.output<typeof registrySchema>;
