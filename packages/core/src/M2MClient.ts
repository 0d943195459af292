/**
 * The M2M client objects as Stytch's API returns them. Field names stay as the wire has them
 * (snake_case), so Stytch's documentation reads straight onto these types.
 *
 * Response objects decode leniently: unknown fields are dropped, and fields Stytch documents as
 * nullable (`client_name`, `client_description`, `trusted_metadata`) decode to their empty value.
 * Secrets decode straight into `Redacted`, so they never print.
 */
import { Schema } from "effect"

/** Any value JSON can carry. */
export type JsonValue =
  | null
  | boolean
  | number
  | string
  | ReadonlyArray<JsonValue>
  | { readonly [key: string]: JsonValue }

export const JsonValue: Schema.Schema<JsonValue> = Schema.Union(
  Schema.Null,
  Schema.Boolean,
  Schema.Finite,
  Schema.String,
  Schema.Array(Schema.suspend(() => JsonValue)),
  Schema.Record({ key: Schema.String, value: Schema.suspend(() => JsonValue) })
).annotations({
  identifier: "JsonValue",
  message: () => ({ message: "must be a JSON value", override: true })
})

/** A JSON object (not an array, not null): the shape of `trusted_metadata`. */
export const JsonObject = Schema.Record({ key: Schema.String, value: JsonValue }).annotations({
  message: () => "must be a JSON object"
}).pipe(
  // Records accept arrays structurally; the API wants an object.
  Schema.filter((value) => !Array.isArray(value), { message: () => "must be a JSON object" })
).annotations({ identifier: "JsonObject" })
export type JsonObject = typeof JsonObject.Type

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
  trusted_metadata: emptyWhenAbsent(JsonObject, () => ({}))
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
