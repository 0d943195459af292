/**
 * Every way an M2M operation can fail, as tagged errors that callers catch by name
 * (`Effect.catchTag("ClientNotFound", ...)`).
 *
 * - API errors: the body Stytch answered with. The documented `error_type`s that callers act on have a
 *   class each; any other `error_type` decodes to `ApiError` with the type kept as a string.
 * - `InvalidRequest`: the request failed its schema before anything was sent.
 * - `TransportError` and `MalformedResponse`: no usable answer came back.
 *
 * None of these holds a secret: they carry only the debugging facts (`request_id`, `status_code`,
 * `error_type`, `error_url`), never a request, a header or a body we did not parse.
 */
import { Schema } from "effect"

const apiErrorFields = {
  status_code: Schema.Int,
  /** Absent when the answer did not come from Stytch (an HTML page from a proxy, say). */
  request_id: Schema.optional(Schema.String),
  error_type: Schema.String,
  error_message: Schema.String,
  error_url: Schema.optional(Schema.String),
  error_details: Schema.optional(Schema.Unknown),
  /** How many attempts were made before this answer was final, when the caller retried. */
  attempts: Schema.optional(Schema.Int)
}

const afterAttempts = (attempts: number | undefined) =>
  attempts !== undefined && attempts > 1 ? ` after ${attempts} attempts` : ""

const describeApiError = (error: ApiErrorFields) =>
  `${error.error_type}: ${error.error_message} (HTTP ${error.status_code}${
    error.request_id ? `, request ${error.request_id}` : ""
  }${afterAttempts(error.attempts)})`

/** The fields every API error carries. */
export interface ApiErrorFields extends Schema.Struct.Type<typeof apiErrorFields> {}

export class ClientNotFound extends Schema.TaggedError<ClientNotFound>("@stytch-effect/core/ClientNotFound")(
  "ClientNotFound",
  apiErrorFields
) {
  override get message() {
    return describeApiError(this)
  }
}

export class DuplicateClientId extends Schema.TaggedError<DuplicateClientId>("@stytch-effect/core/DuplicateClientId")(
  "DuplicateClientId",
  apiErrorFields
) {
  override get message() {
    return describeApiError(this)
  }
}

/** A custom `client_secret` that is too short, too weak or too long. */
export class InvalidClientSecret
  extends Schema.TaggedError<InvalidClientSecret>("@stytch-effect/core/InvalidClientSecret")(
    "InvalidClientSecret",
    apiErrorFields
  )
{
  override get message() {
    return describeApiError(this)
  }
}

/** A bad scope, or too many of them. */
export class InvalidScope extends Schema.TaggedError<InvalidScope>("@stytch-effect/core/InvalidScope")(
  "InvalidScope",
  apiErrorFields
) {
  override get message() {
    return describeApiError(this)
  }
}

export class SecretAlreadyRotating
  extends Schema.TaggedError<SecretAlreadyRotating>("@stytch-effect/core/SecretAlreadyRotating")(
    "SecretAlreadyRotating",
    apiErrorFields
  )
{
  override get message() {
    return describeApiError(this)
  }
}

export class SecretNotRotating extends Schema.TaggedError<SecretNotRotating>("@stytch-effect/core/SecretNotRotating")(
  "SecretNotRotating",
  apiErrorFields
) {
  override get message() {
    return describeApiError(this)
  }
}

export class InvalidSearchQuery
  extends Schema.TaggedError<InvalidSearchQuery>("@stytch-effect/core/InvalidSearchQuery")(
    "InvalidSearchQuery",
    apiErrorFields
  )
{
  override get message() {
    return describeApiError(this)
  }
}

/** Wrong project id or secret. */
export class Unauthorized extends Schema.TaggedError<Unauthorized>("@stytch-effect/core/Unauthorized")(
  "Unauthorized",
  apiErrorFields
) {
  override get message() {
    return describeApiError(this)
  }
}

export class RateLimited extends Schema.TaggedError<RateLimited>("@stytch-effect/core/RateLimited")(
  "RateLimited",
  {
    ...apiErrorFields,
    /** From the `Retry-After` header, when the server sent one. */
    retry_after_millis: Schema.optional(Schema.Int)
  }
) {
  override get message() {
    return describeApiError(this)
  }
}

/**
 * The `client_id` of a create whose outcome is unknown, on the errors that leave it unknown: the client
 * may exist, or may still appear later (an abandoned attempt can land after the error), so repeat the
 * create with this `client_id` rather than without one.
 */
const unknownOutcomeFields = {
  client_id: Schema.optional(Schema.String)
}

const unknownOutcome = (client_id: string | undefined) =>
  client_id === undefined
    ? ""
    : `; client ${client_id} may exist or may still appear: repeat the create with this client_id to find out`

/** A 5XX answer: Stytch's own, or a proxy's page that is not JSON at all. */
export class ServerError extends Schema.TaggedError<ServerError>("@stytch-effect/core/ServerError")(
  "ServerError",
  { ...apiErrorFields, ...unknownOutcomeFields }
) {
  override get message() {
    return describeApiError(this) + unknownOutcome(this.client_id)
  }
}

/** Any other API error; `error_type` says which. */
export class ApiError extends Schema.TaggedError<ApiError>("@stytch-effect/core/ApiError")(
  "ApiError",
  apiErrorFields
) {
  override get message() {
    return describeApiError(this)
  }
}

// The token endpoint's OAuth2 errors (RFC 6749 section 5.2), each a class of its own.

/** `invalid_client`: the client id and secret do not belong together, or the client does not exist. */
export class InvalidClientCredentials
  extends Schema.TaggedError<InvalidClientCredentials>("@stytch-effect/core/InvalidClientCredentials")(
    "InvalidClientCredentials",
    apiErrorFields
  )
{
  override get message() {
    return describeApiError(this)
  }
}

/** `invalid_scope`: a scope asked for that the client does not hold. */
export class ScopeNotGranted extends Schema.TaggedError<ScopeNotGranted>("@stytch-effect/core/ScopeNotGranted")(
  "ScopeNotGranted",
  apiErrorFields
) {
  override get message() {
    return describeApiError(this)
  }
}

/**
 * `unauthorized_client`: the credentials are right but the client may not get tokens, as an inactive
 * client may not. Reactivate it (`update` with `status: "active"`) to get tokens again.
 */
export class ClientInactive extends Schema.TaggedError<ClientInactive>("@stytch-effect/core/ClientInactive")(
  "ClientInactive",
  apiErrorFields
) {
  override get message() {
    return describeApiError(this)
  }
}

/** `invalid_grant` or `unsupported_grant_type`: the request's grant is not `client_credentials`. */
export class InvalidGrant extends Schema.TaggedError<InvalidGrant>("@stytch-effect/core/InvalidGrant")(
  "InvalidGrant",
  apiErrorFields
) {
  override get message() {
    return describeApiError(this)
  }
}

/** The request broke a rule of its schema; nothing was sent. */
export class InvalidRequest extends Schema.TaggedError<InvalidRequest>("@stytch-effect/core/InvalidRequest")(
  "InvalidRequest",
  {
    /** The operation, as `clients.create`. */
    operation: Schema.String,
    /** The path of the offending field, as `scopes[0]` or `query.operands[1].filter_value`. */
    field: Schema.String,
    /** The rule it broke, as `must be at least 8 characters`. Never quotes a secret. */
    rule: Schema.String
  }
) {
  override get message() {
    return `${this.operation}: ${this.field} ${this.rule}`
  }
}

/** No answer: the connection failed or the attempt timed out. */
export class TransportError extends Schema.TaggedError<TransportError>("@stytch-effect/core/TransportError")(
  "TransportError",
  {
    operation: Schema.String,
    reason: Schema.Literal("Timeout", "Connection"),
    description: Schema.String,
    attempts: Schema.optional(Schema.Int),
    ...unknownOutcomeFields
  }
) {
  override get message() {
    return `${this.operation}: ${this.reason.toLowerCase()} failure: ${this.description}${
      afterAttempts(this.attempts)
    }${unknownOutcome(this.client_id)}`
  }
}

/** An answer came back but is not what the API documents (not JSON, or the wrong shape). */
export class MalformedResponse extends Schema.TaggedError<MalformedResponse>("@stytch-effect/core/MalformedResponse")(
  "MalformedResponse",
  {
    operation: Schema.String,
    status_code: Schema.Int,
    request_id: Schema.optional(Schema.String),
    description: Schema.String,
    attempts: Schema.optional(Schema.Int),
    ...unknownOutcomeFields
  }
) {
  override get message() {
    return `${this.operation}: malformed response (HTTP ${this.status_code}${
      this.request_id ? `, request ${this.request_id}` : ""
    }): ${this.description}${afterAttempts(this.attempts)}${unknownOutcome(this.client_id)}`
  }
}

/**
 * A create was repeated after an attempt whose answer was lost, and the repeat found its `client_id`
 * taken, most likely by that lost attempt. The client exists, but its secret was only in the lost
 * answer: rotate the secret (`secrets.rotateStart`, then `secrets.rotate`) or delete the client.
 */
export class ClientSecretLost extends Schema.TaggedError<ClientSecretLost>("@stytch-effect/core/ClientSecretLost")(
  "ClientSecretLost",
  {
    client_id: Schema.String,
    /** The request that found the id taken. */
    request_id: Schema.optional(Schema.String),
    attempts: Schema.optional(Schema.Int)
  }
) {
  override get message() {
    return `M2MClients.create: client ${this.client_id} was most likely created by an attempt whose answer was lost, ` +
      `so its secret was never received; rotate its secret or delete it${afterAttempts(this.attempts)}`
  }
}

/** The API errors any operation can meet, whatever it does. */
export type CommonApiError = Unauthorized | RateLimited | ServerError | ApiError

/** Every error any operation can fail with, besides its own API errors. */
export type CommonError = CommonApiError | InvalidRequest | TransportError | MalformedResponse

/** The class of an API error: what the `error_type` table maps to. */
export type ApiErrorClass =
  | typeof ClientNotFound
  | typeof DuplicateClientId
  | typeof InvalidClientSecret
  | typeof InvalidScope
  | typeof SecretAlreadyRotating
  | typeof SecretNotRotating
  | typeof InvalidSearchQuery
  | typeof InvalidClientCredentials
  | typeof ScopeNotGranted
  | typeof ClientInactive
  | typeof InvalidGrant
  | typeof Unauthorized
  | typeof RateLimited
  | typeof ServerError
  | typeof ApiError

export type AnyApiError = InstanceType<ApiErrorClass>

/** Stytch's documented `error_type`s, each to the class callers catch it by. */
export const errorTypes: { readonly [errorType: string]: ApiErrorClass } = {
  m2m_client_not_found: ClientNotFound,
  duplicate_m2m_client_id: DuplicateClientId,
  insecure_m2m_client_secret: InvalidClientSecret,
  m2m_client_invalid_client_secret: InvalidClientSecret,
  client_secret_too_long: InvalidClientSecret,
  invalid_m2m_client_scope: InvalidScope,
  too_many_m2m_client_scopes: InvalidScope,
  m2m_client_already_rotating_secret: SecretAlreadyRotating,
  m2m_client_not_rotating_secret: SecretNotRotating,
  m2m_search_filter_name_not_recognized: InvalidSearchQuery,
  m2m_search_missing_filter_name: InvalidSearchQuery,
  m2m_search_missing_filter_value: InvalidSearchQuery,
  m2m_search_expected_array_of_strings: InvalidSearchQuery,
  m2m_search_filter_name_must_be_string: InvalidSearchQuery,
  // Not in Stytch's table; our memory layer and emulator answer it for a cursor they did not issue.
  invalid_search_cursor: InvalidSearchQuery,
  // The token endpoint's OAuth2 names.
  invalid_client: InvalidClientCredentials,
  invalid_scope: ScopeNotGranted,
  unauthorized_client: ClientInactive,
  invalid_grant: InvalidGrant,
  unsupported_grant_type: InvalidGrant,
  unauthorized_credentials: Unauthorized,
  invalid_secret_authentication: Unauthorized,
  invalid_project_id_authentication: Unauthorized,
  too_many_requests: RateLimited,
  internal_server_error: ServerError,
  server_unavailable: ServerError
}

/**
 * The error an API answer stands for. An `error_type` outside the table falls back on the status
 * (any 5XX is a `ServerError`, 429 is `RateLimited`, 401 `Unauthorized`); an error that the operation
 * cannot produce (`expected`) becomes an `ApiError`, so each operation's error union stays exact.
 */
export const fromApiErrorFields = (
  fields: ApiErrorFields & { readonly retry_after_millis?: number | undefined },
  expected: ReadonlyArray<ApiErrorClass>
): AnyApiError => {
  const byStatus = fields.status_code >= 500
    ? ServerError
    : fields.status_code === 429
    ? RateLimited
    : fields.status_code === 401
    ? Unauthorized
    : ApiError
  const found = Object.hasOwn(errorTypes, fields.error_type) ? errorTypes[fields.error_type]! : byStatus
  const common: ReadonlyArray<ApiErrorClass> = [Unauthorized, RateLimited, ServerError, ApiError]
  const Class = common.includes(found) || expected.includes(found) ? found : ApiError
  if (Class === RateLimited) return new RateLimited(fields, { disableValidation: true })
  const { retry_after_millis: _, ...rest } = fields
  return new Class(rest, { disableValidation: true })
}

/**
 * An error body as the wire carries it: Stytch's management shape, or the OAuth2 shape of the token
 * endpoint (`error`, `error_description`, `error_uri`), both onto the same fields.
 */
// The optional fields may come as `null`, which reads as absent.
const StytchErrorBody = Schema.Struct({
  status_code: Schema.optionalWith(Schema.Int, { nullable: true }),
  request_id: Schema.optionalWith(Schema.String, { nullable: true }),
  error_type: Schema.String,
  error_message: Schema.optionalWith(Schema.String, { nullable: true, default: () => "" }),
  error_url: Schema.optionalWith(Schema.String, { nullable: true }),
  error_details: Schema.optional(Schema.Unknown)
})

const OAuth2ErrorBody = Schema.Struct({
  request_id: Schema.optional(Schema.String),
  status_code: Schema.optional(Schema.Int),
  error: Schema.String,
  error_description: Schema.optionalWith(Schema.String, { default: () => "" }),
  error_uri: Schema.optional(Schema.String)
})

const OAuth2AsStytch = Schema.transform(OAuth2ErrorBody, Schema.typeSchema(StytchErrorBody), {
  strict: true,
  decode: ({ error, error_description, error_uri, ...rest }) => ({
    ...rest,
    error_type: error,
    error_message: error_description,
    ...(error_uri === undefined ? {} : { error_url: error_uri })
  }),
  encode: ({ error_details: _, error_message, error_type, error_url, ...rest }) => ({
    ...rest,
    error: error_type,
    error_description: error_message,
    ...(error_url === undefined ? {} : { error_uri: error_url })
  })
})

export const ErrorBody = Schema.Union(StytchErrorBody, OAuth2AsStytch)
export type ErrorBody = typeof ErrorBody.Type

/** The documentation link an error body carries, for its status and type. */
export const errorUrlOf = (status: number, errorType: string): string =>
  `https://stytch.com/docs/api/errors/${status}#${errorType}`

/** The wire body of an API error, as Stytch (and our emulator) sends it. */
export const toErrorBody = (error: AnyApiError): typeof StytchErrorBody.Encoded => ({
  status_code: error.status_code,
  ...(error.request_id === undefined ? {} : { request_id: error.request_id }),
  error_type: error.error_type,
  error_message: error.error_message,
  ...(error.error_url === undefined ? {} : { error_url: error.error_url }),
  ...(error.error_details === undefined ? {} : { error_details: error.error_details })
})
