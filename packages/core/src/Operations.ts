/**
 * The eight operations of Stytch's M2M clients resource. Each sits in one place: its request schema
 * (which holds the validation every implementation shares), its response schema, the API errors it can
 * produce and its route. The http layer sends by these descriptors and the emulator routes by them,
 * so client and server cannot disagree.
 *
 * Names follow the official Node SDK (`M2MClientsCreateRequest`, ...).
 */
import { Schema } from "effect"
import {
  M2MClient,
  M2MClientStatus,
  M2MClientWithClientSecret,
  M2MClientWithNextClientSecret,
  OptionalJsonObject,
  ResultsMetadata
} from "./M2MClient.js"
import type { ApiErrorClass, CommonError } from "./M2MError.js"
import {
  ClientNotFound,
  DuplicateClientId,
  InvalidClientSecret,
  InvalidScope,
  InvalidSearchQuery,
  SecretAlreadyRotating,
  SecretNotRotating
} from "./M2MError.js"
import { M2MSearchQuery } from "./M2MSearchQuery.js"

// ---------------------------------------------------------------------------------------------------
// Field rules shared by the requests. Each message names the rule and never quotes the value, so an
// `InvalidRequest` cannot leak a secret.
// ---------------------------------------------------------------------------------------------------

/** A string, as the API says it: a schema's default message would name the TypeScript type. */
const Text = Schema.String.annotations({ message: () => "must be a string" })

/** A request body, or the query of one: always a JSON object. */
const requestMessage = { message: () => "must be a JSON object" } as const

const loneSurrogate = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/

/**
 * A client id: any non-empty string but `.` and `..`. It is percent-encoded wherever it enters a path,
 * but URLs resolve `.` and `..` segments (encoded or not), so those two could never reach their client.
 */
export const ClientId = Text.pipe(
  Schema.minLength(1, { message: () => "must be a non-empty string" }),
  // A lone surrogate has no UTF-8 form, so it can be neither percent-encoded nor sent.
  Schema.filter((id) => !loneSurrogate.test(id), { message: () => "must be well-formed Unicode" }),
  Schema.filter((id) => id !== "." && id !== "..", { message: () => "must not be \".\" or \"..\"" })
).annotations({ identifier: "ClientId" })

/** A scope: non-empty and without whitespace, since tokens carry scopes space-separated. */
export const Scope = Text.pipe(
  Schema.pattern(/^\S+$/, { message: () => "must be a non-empty string without whitespace" })
).annotations({ identifier: "Scope" })

export const Scopes = Schema.Array(Scope).annotations({ message: () => "must be a list of scopes" })

/** A caller-chosen secret: at least 8 characters, and `Redacted` from the caller's hands onward. */
export const CustomClientSecret = Schema.Redacted(
  Schema.String.pipe(
    Schema.minLength(8, { message: () => "must be at least 8 characters" }),
    // As for ids: a lone surrogate has no UTF-8 form, so the secret stored would not be this one.
    Schema.filter((secret) => !loneSurrogate.test(secret), { message: () => "must be well-formed Unicode" })
  )
)

/** The page size Stytch uses when a search gives none. */
export const defaultSearchLimit = 100

/** A page size: Stytch serves at most 1000 clients a page. */
export const SearchLimit = Schema.Number.annotations({ message: () => "must be a number" }).pipe(
  Schema.int({ message: () => "must be an integer from 1 to 1000" }),
  Schema.between(1, 1000, { message: () => "must be an integer from 1 to 1000" })
)

// ---------------------------------------------------------------------------------------------------
// Descriptors
// ---------------------------------------------------------------------------------------------------

export type HttpMethod = "GET" | "POST" | "PUT" | "DELETE"

export interface Operation<
  Name extends string = string,
  Request = any,
  RequestEncoded = any,
  Response = any,
  ResponseEncoded = any,
  Errors extends ApiErrorClass = ApiErrorClass
> {
  /** The path to the method on the service, also the span's name: `M2MClients.secrets.rotateStart`. */
  readonly name: Name
  readonly method: HttpMethod
  /** With `:client_id` where the client's id goes. */
  readonly route: string
  readonly request: Schema.Schema<Request, RequestEncoded>
  readonly response: Schema.Schema<Response, ResponseEncoded>
  /** The operation's own API errors, besides the ones every operation can meet. */
  readonly errors: ReadonlyArray<Errors>
}

export declare namespace Operation {
  export type Request<O> = O extends Operation<any, infer R, any, any, any, any> ? R : never
  /** The request's wire form: what its schema encodes it to. */
  export type Encoded<O> = O extends Operation<any, any, infer I, any, any, any> ? I : never
  export type Response<O> = O extends Operation<any, any, any, infer R, any, any> ? R : never
  /** Everything the operation can fail with. */
  export type Error<O> = O extends Operation<any, any, any, any, any, infer E> ? InstanceType<E> | CommonError
    : never
}

const operation = <const Name extends string, Req, ReqI, Res, ResI, const Errors extends ApiErrorClass = never>(
  descriptor: Operation<Name, Req, ReqI, Res, ResI, Errors>
) => descriptor

/** The request path, with the client id percent-encoded so `../search` or `a/b` stays one segment. */
export const pathOf = (op: Operation, request: { readonly client_id?: string }): string =>
  request.client_id === undefined || !op.route.includes(":client_id")
    ? op.route
    : op.route.replace(":client_id", encodeURIComponent(request.client_id))

/**
 * The JSON body of an encoded request: everything but the path parameter, optional fields left out;
 * `undefined` for `GET`. A `DELETE` sends `{}`, as the official SDK does, so neither a proxy nor the
 * API can tell the two apart.
 */
export const bodyOf = (op: Operation, encoded: object): object | undefined => {
  if (op.method === "GET") return undefined
  const body: Record<string, unknown> = {}
  for (const [key, value] of Object.entries(encoded)) {
    if (value !== undefined && !(key === "client_id" && op.route.includes(":client_id"))) body[key] = value
  }
  return body
}

const OptionalMetadata = Schema.optionalWith(OptionalJsonObject, { exact: true })

const responseFields = {
  request_id: Schema.String,
  status_code: Schema.Int
}

const byClientId = Schema.Struct({ client_id: ClientId }).annotations(requestMessage)

// ---------------------------------------------------------------------------------------------------
// clients.create: POST /v1/m2m/clients
// ---------------------------------------------------------------------------------------------------

export const M2MClientsCreateRequest = Schema.Struct({
  scopes: Scopes,
  /** A client id of your own; generated when left out. Makes a create safe to retry. */
  client_id: Schema.optional(ClientId),
  /** A secret of your own, for importing an existing client; generated when left out. */
  client_secret: Schema.optional(CustomClientSecret),
  client_name: Schema.optional(Text),
  client_description: Schema.optional(Text),
  trusted_metadata: OptionalMetadata
}).annotations(requestMessage)
export interface M2MClientsCreateRequest extends Schema.Schema.Type<typeof M2MClientsCreateRequest> {}

export class M2MClientsCreateResponse extends Schema.Class<M2MClientsCreateResponse>("M2MClientsCreateResponse")({
  ...responseFields,
  m2m_client: M2MClientWithClientSecret
}) {}

const create = operation({
  name: "M2MClients.create",
  method: "POST",
  route: "/v1/m2m/clients",
  request: M2MClientsCreateRequest,
  response: M2MClientsCreateResponse,
  errors: [DuplicateClientId, InvalidClientSecret, InvalidScope]
})

// ---------------------------------------------------------------------------------------------------
// clients.get: GET /v1/m2m/clients/{client_id}
// ---------------------------------------------------------------------------------------------------

export const M2MClientsGetRequest = byClientId
export interface M2MClientsGetRequest extends Schema.Schema.Type<typeof M2MClientsGetRequest> {}

export class M2MClientsGetResponse extends Schema.Class<M2MClientsGetResponse>("M2MClientsGetResponse")({
  ...responseFields,
  m2m_client: M2MClient
}) {}

const get = operation({
  name: "M2MClients.get",
  method: "GET",
  route: "/v1/m2m/clients/:client_id",
  request: M2MClientsGetRequest,
  response: M2MClientsGetResponse,
  errors: [ClientNotFound]
})

// ---------------------------------------------------------------------------------------------------
// clients.update: PUT /v1/m2m/clients/{client_id}. Only the fields given change.
// ---------------------------------------------------------------------------------------------------

export const M2MClientsUpdateRequest = Schema.Struct({
  client_id: ClientId,
  client_name: Schema.optional(Text),
  client_description: Schema.optional(Text),
  status: Schema.optional(M2MClientStatus),
  scopes: Schema.optional(Scopes),
  trusted_metadata: OptionalMetadata
}).annotations(requestMessage)
export interface M2MClientsUpdateRequest extends Schema.Schema.Type<typeof M2MClientsUpdateRequest> {}

export class M2MClientsUpdateResponse extends Schema.Class<M2MClientsUpdateResponse>("M2MClientsUpdateResponse")({
  ...responseFields,
  m2m_client: M2MClient
}) {}

const update = operation({
  name: "M2MClients.update",
  method: "PUT",
  route: "/v1/m2m/clients/:client_id",
  request: M2MClientsUpdateRequest,
  response: M2MClientsUpdateResponse,
  errors: [ClientNotFound, InvalidScope]
})

// ---------------------------------------------------------------------------------------------------
// clients.delete: DELETE /v1/m2m/clients/{client_id}. Answers the id only.
// ---------------------------------------------------------------------------------------------------

export const M2MClientsDeleteRequest = byClientId
export interface M2MClientsDeleteRequest extends Schema.Schema.Type<typeof M2MClientsDeleteRequest> {}

export class M2MClientsDeleteResponse extends Schema.Class<M2MClientsDeleteResponse>("M2MClientsDeleteResponse")({
  ...responseFields,
  client_id: Schema.String
}) {}

const delete_ = operation({
  name: "M2MClients.delete",
  method: "DELETE",
  route: "/v1/m2m/clients/:client_id",
  request: M2MClientsDeleteRequest,
  response: M2MClientsDeleteResponse,
  errors: [ClientNotFound]
})

// ---------------------------------------------------------------------------------------------------
// clients.search: POST /v1/m2m/clients/search. The first page has no cursor; each next page is asked
// with the previous `next_cursor` and the same query.
// ---------------------------------------------------------------------------------------------------

export const M2MClientsSearchRequest = Schema.Struct({
  cursor: Schema.optional(Text),
  /** Page size; Stytch's default is 100. */
  limit: Schema.optional(SearchLimit),
  /** At most `maxSearchOperands` operands of at most `maxSearchFilterValues` values each. */
  query: Schema.optional(M2MSearchQuery)
}).annotations(requestMessage)
export interface M2MClientsSearchRequest extends Schema.Schema.Type<typeof M2MClientsSearchRequest> {}

export class M2MClientsSearchResponse extends Schema.Class<M2MClientsSearchResponse>("M2MClientsSearchResponse")({
  ...responseFields,
  m2m_clients: Schema.Array(M2MClient),
  results_metadata: ResultsMetadata
}) {}

const search = operation({
  name: "M2MClients.search",
  method: "POST",
  route: "/v1/m2m/clients/search",
  request: M2MClientsSearchRequest,
  response: M2MClientsSearchResponse,
  errors: [InvalidSearchQuery]
})

// ---------------------------------------------------------------------------------------------------
// secrets.rotateStart: POST /v1/m2m/clients/{client_id}/secrets/rotate/start. Both secrets are valid
// until the rotation ends.
// ---------------------------------------------------------------------------------------------------

export const M2MClientsSecretsRotateStartRequest = byClientId
export interface M2MClientsSecretsRotateStartRequest
  extends Schema.Schema.Type<typeof M2MClientsSecretsRotateStartRequest>
{}

export class M2MClientsSecretsRotateStartResponse
  extends Schema.Class<M2MClientsSecretsRotateStartResponse>("M2MClientsSecretsRotateStartResponse")({
    ...responseFields,
    m2m_client: M2MClientWithNextClientSecret
  })
{}

const rotateStart = operation({
  name: "M2MClients.secrets.rotateStart",
  method: "POST",
  route: "/v1/m2m/clients/:client_id/secrets/rotate/start",
  request: M2MClientsSecretsRotateStartRequest,
  response: M2MClientsSecretsRotateStartResponse,
  errors: [ClientNotFound, SecretAlreadyRotating]
})

// ---------------------------------------------------------------------------------------------------
// secrets.rotateCancel: POST /v1/m2m/clients/{client_id}/secrets/rotate/cancel. Discards the next secret.
// ---------------------------------------------------------------------------------------------------

export const M2MClientsSecretsRotateCancelRequest = byClientId
export interface M2MClientsSecretsRotateCancelRequest
  extends Schema.Schema.Type<typeof M2MClientsSecretsRotateCancelRequest>
{}

export class M2MClientsSecretsRotateCancelResponse
  extends Schema.Class<M2MClientsSecretsRotateCancelResponse>("M2MClientsSecretsRotateCancelResponse")({
    ...responseFields,
    m2m_client: M2MClient
  })
{}

const rotateCancel = operation({
  name: "M2MClients.secrets.rotateCancel",
  method: "POST",
  route: "/v1/m2m/clients/:client_id/secrets/rotate/cancel",
  request: M2MClientsSecretsRotateCancelRequest,
  response: M2MClientsSecretsRotateCancelResponse,
  errors: [ClientNotFound, SecretNotRotating]
})

// ---------------------------------------------------------------------------------------------------
// secrets.rotate: POST /v1/m2m/clients/{client_id}/secrets/rotate. The next secret becomes the current
// one and the old one stops working.
// ---------------------------------------------------------------------------------------------------

export const M2MClientsSecretsRotateRequest = byClientId
export interface M2MClientsSecretsRotateRequest extends Schema.Schema.Type<typeof M2MClientsSecretsRotateRequest> {}

export class M2MClientsSecretsRotateResponse
  extends Schema.Class<M2MClientsSecretsRotateResponse>("M2MClientsSecretsRotateResponse")({
    ...responseFields,
    m2m_client: M2MClient
  })
{}

const rotate = operation({
  name: "M2MClients.secrets.rotate",
  method: "POST",
  route: "/v1/m2m/clients/:client_id/secrets/rotate",
  request: M2MClientsSecretsRotateRequest,
  response: M2MClientsSecretsRotateResponse,
  errors: [ClientNotFound, SecretNotRotating]
})

/** The eight descriptors, keyed as the service's methods are (the rotations under `secrets` there). */
export const Operations = {
  create,
  get,
  update,
  delete: delete_,
  search,
  rotateStart,
  rotateCancel,
  rotate
} as const
