/**
 * The M2M client objects as Stytch's API returns them. Field names stay as the wire has them
 * (snake_case), so Stytch's documentation reads straight onto these types.
 *
 * Response objects decode leniently: unknown fields are dropped, and fields Stytch documents as
 * nullable (`client_name`, `client_description`, `trusted_metadata`) decode to their empty value.
 * Secrets decode straight into `Redacted`, so they never print.
 */
import type { FastCheck } from "effect"
import { Schema } from "effect"

/** Any value JSON can carry. */
export type JsonValue =
  | null
  | boolean
  | number
  | string
  | ReadonlyArray<JsonValue>
  | { readonly [key: string]: JsonValue }

/** How deep `trusted_metadata` may nest in a request: far beyond real use, far short of overflowing a stack. */
export const maxJsonDepth = 64

/**
 * How deep metadata in an answer may nest. Written elsewhere (another SDK, the dashboard), it is not
 * held to our 64, only kept short of what recursive code (`JSON.stringify`, `inspect`) can walk.
 */
const maxAnswerJsonDepth = 1000

type JsonRecord = { readonly [key: string]: JsonValue }

/**
 * Whether `root` is a JSON object all the way down: finite numbers, plain objects and arrays, no
 * deeper than `maxDepth`, and (unless `protoKey`) no own `__proto__` key, which would become the
 * prototype of a copy instead of data. Walked with an explicit stack, so a hostile depth fails the
 * check instead of overflowing the call stack.
 */
const isJsonObjectWithin = (maxDepth: number, protoKey: boolean) => (root: unknown): root is JsonRecord => {
  if (typeof root !== "object" || root === null || Array.isArray(root)) return false
  const pending: Array<readonly [value: unknown, depth: number]> = [[root, 1]]
  while (pending.length > 0) {
    const [value, depth] = pending.pop()!
    if (value === null || typeof value === "string" || typeof value === "boolean") continue
    if (typeof value === "number") {
      if (!Number.isFinite(value)) return false
      continue
    }
    if (typeof value !== "object" || depth > maxDepth) return false
    if (Array.isArray(value)) {
      for (const item of value) pending.push([item, depth + 1])
      continue
    }
    const prototype = Object.getPrototypeOf(value)
    if (prototype !== Object.prototype && prototype !== null) return false
    for (const [key, item] of Object.entries(value)) {
      if (key === "__proto__" && !protoKey) return false
      pending.push([item, depth + 1])
    }
  }
  return true
}

const isJsonObject = isJsonObjectWithin(maxJsonDepth, false)
// `JSON.parse` makes `__proto__` an own key, harmless as long as nothing copies it; an answer keeps it.
const isAnswerJsonObject = isJsonObjectWithin(maxAnswerJsonDepth, true)

const jsonObjectRule = `must be a JSON object, at most ${maxJsonDepth} levels deep, without a __proto__ key`

// JSON's own round trip, so generated values are the ones the wire can carry (no -0, no undefined).
const jsonObjectArbitrary = (fc: typeof FastCheck) =>
  fc.dictionary(fc.string(), fc.jsonValue({ maxDepth: 3 }))
    .map((value) => JSON.parse(JSON.stringify(value)) as JsonRecord)
    // fast-check likes to try `__proto__` keys, at any depth; those are refused by design.
    .filter(isJsonObject)

const sameJson = (self: JsonRecord | undefined, that: JsonRecord | undefined) =>
  JSON.stringify(self) === JSON.stringify(that)

const jsonObjectAnnotations = {
  arbitrary: () => jsonObjectArbitrary,
  pretty: () => (value: JsonRecord) => JSON.stringify(value),
  equivalence: () => sameJson
}

/**
 * A JSON object (not an array, not null): the shape of `trusted_metadata` in a request. Checked as a
 * whole rather than field by field, and passed through unchanged, so what is stored is exactly what was
 * sent. Its message never shows the value (which may be deep enough to overflow a formatter).
 */
export const JsonObject = Schema.declare(isJsonObject, {
  identifier: "JsonObject",
  message: () => jsonObjectRule,
  ...jsonObjectAnnotations
})
export type JsonObject = typeof JsonObject.Type

/**
 * An optional request field's `JsonObject`: `undefined` is accepted as not given, like every optional
 * field, in the same one check (a union's message would print the value it refused).
 */
export const OptionalJsonObject = Schema.declare(
  (value: unknown): value is JsonObject | undefined => value === undefined || isJsonObject(value),
  {
    identifier: "JsonObject",
    message: () => jsonObjectRule,
    arbitrary: () => (fc) => fc.option(jsonObjectArbitrary(fc), { nil: undefined }),
    pretty: () => (value) => value === undefined ? "undefined" : JSON.stringify(value),
    equivalence: () => sameJson
  }
)

/** `trusted_metadata` as answers carry it: `null` (or absent) is `{}`. */
const AnswerMetadata = Schema.transform(
  Schema.declare((value: unknown): value is JsonObject | null => value === null || isAnswerJsonObject(value), {
    identifier: "JsonObject",
    message: () => `must be a JSON object or null, at most ${maxAnswerJsonDepth} levels deep`
  }),
  Schema.declare(isAnswerJsonObject, {
    identifier: "JsonObject",
    message: () => `must be a JSON object, at most ${maxAnswerJsonDepth} levels deep`,
    ...jsonObjectAnnotations
  }),
  { strict: true, decode: (metadata) => metadata ?? {}, encode: (metadata) => metadata }
)

/**
 * Which of Stytch's environments a project lives in: a project id starting `project-live-` means live,
 * anything else test. It picks the API's base URL and the `-live-`/`-test-` in generated ids.
 */
export const projectEnvironment = (projectId: string): "live" | "test" =>
  projectId.startsWith("project-live-") ? "live" : "test"

export const M2MClientStatus = Schema.Literal("active", "inactive").annotations({
  message: () => ({ message: "must be \"active\" or \"inactive\"", override: true })
})
export type M2MClientStatus = typeof M2MClientStatus.Type

/** A secret as the API returns it: only ever held as `Redacted`. */
export const ClientSecret = Schema.Redacted(Schema.String)

const emptyWhenAbsent = <S extends Schema.Schema.Any>(schema: S, empty: () => Schema.Schema.Type<S>) =>
  Schema.optionalWith(schema, { nullable: true, default: empty })

const m2mClientFields = {
  client_id: Schema.String,
  client_name: emptyWhenAbsent(Schema.String, () => ""),
  client_description: emptyWhenAbsent(Schema.String, () => ""),
  status: M2MClientStatus,
  scopes: Schema.Array(Schema.String),
  client_secret_last_four: Schema.String,
  /** Null unless a secret rotation is in progress. */
  next_client_secret_last_four: Schema.optionalWith(Schema.NullOr(Schema.String), { default: () => null }),
  trusted_metadata: Schema.optionalWith(AnswerMetadata, { exact: true, default: () => ({}) })
}

export class M2MClient extends Schema.Class<M2MClient>("M2MClient")(m2mClientFields) {}

/** Returned only by create: the only time the client's secret is shown. */
export class M2MClientWithClientSecret extends Schema.Class<M2MClientWithClientSecret>("M2MClientWithClientSecret")({
  ...m2mClientFields,
  client_secret: ClientSecret
}) {}

/** Returned only by rotateStart: the only time the next secret is shown. */
export class M2MClientWithNextClientSecret
  extends Schema.Class<M2MClientWithNextClientSecret>("M2MClientWithNextClientSecret")({
    ...m2mClientFields,
    next_client_secret: ClientSecret
  })
{}

export class ResultsMetadata extends Schema.Class<ResultsMetadata>("ResultsMetadata")({
  /** `-1` where the project has totals turned off. */
  total: Schema.Int,
  /** Null (or absent, or empty) on the last page. */
  next_cursor: Schema.optionalWith(Schema.NullOr(Schema.String), { default: () => null })
}) {}
