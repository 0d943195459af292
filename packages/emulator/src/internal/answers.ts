/**
 * The emulator's error answers, shaped as Stytch shapes them: `status_code`, `request_id`, `error_type`,
 * `error_message`, `error_url` and, where it helps, `error_details`.
 *
 * Stytch documents `error_type`s for its own resource errors but not for every HTTP-level failure. Where
 * the documentation names one we use it (`unauthorized_credentials`, `method_not_allowed`,
 * `internal_server_error`, `server_unavailable`, `bad_request`); where it is silent we chose a name in
 * the same style and list it here:
 *
 * | status | error_type | when |
 * | --- | --- | --- |
 * | 400 | `bad_request` | the body is not JSON, not UTF-8 or not a JSON object; `limit`, `cursor` or another field with no documented type of its own is wrong; a search query over its bounds (`maxSearchOperands` operands, `maxSearchFilterValues` values in one) |
 * | 400 | `m2m_client_invalid_client_id` | the `client_id` in the path is not validly percent-encoded |
 * | 404 | `route_not_found` | no endpoint has this path |
 * | 405 | `method_not_allowed` | an endpoint has this path, not with this method (the `Allow` header lists the methods it has) |
 * | 408 | `request_timeout` | the request did not arrive whole within Node's request timeout |
 * | 413 | `request_too_large` | the body is over the emulator's size limit |
 * | 415 | `unsupported_content_type` | a body was sent without `Content-Type: application/json` |
 * | 431 | `request_header_fields_too_large` | the request line and headers are over Node's 16 KiB |
 *
 * Messages name the rule a request broke and never quote what was sent, so a secret in a bad request
 * cannot come back in an answer or a log line.
 */
import { HttpServerResponse } from "@effect/platform"
import type { AnyApiError, InvalidRequest } from "@stytch-effect/core"
import { errorUrlOf, toErrorBody } from "@stytch-effect/core"
import { STATUS_CODES } from "node:http"

/** An error answer that the emulator itself decided on, before or around the operation. */
export interface ErrorAnswer {
  readonly status_code: number
  readonly error_type: string
  readonly error_message: string
  readonly error_details?: unknown
  readonly headers?: Readonly<Record<string, string>>
}

/** The JSON body of an error answer. */
export const errorBody = (answer: ErrorAnswer, requestId: string) => ({
  status_code: answer.status_code,
  request_id: requestId,
  error_type: answer.error_type,
  error_message: answer.error_message,
  error_url: errorUrlOf(answer.status_code, answer.error_type),
  ...(answer.error_details === undefined ? {} : { error_details: answer.error_details })
})

export const respondError = (answer: ErrorAnswer, requestId: string): HttpServerResponse.HttpServerResponse =>
  HttpServerResponse.unsafeJson(errorBody(answer, requestId), {
    status: answer.status_code,
    ...(answer.headers ? { headers: answer.headers } : {})
  })

/**
 * The whole HTTP answer, as bytes for a bare socket, to a request Node's parser refused before any
 * handler saw it: a head over Node's 16 KiB limit (431), a request that did not arrive within Node's
 * request timeout (408), or a malformed request line (400).
 */
export const unparsableRequestAnswer = (parserCode: string | undefined, requestId: string): string => {
  const answer: ErrorAnswer = parserCode === "HPE_HEADER_OVERFLOW"
    ? {
      status_code: 431,
      error_type: "request_header_fields_too_large",
      error_message: "The request line and headers are over the limit of 16 KiB."
    }
    : parserCode === "ERR_HTTP_REQUEST_TIMEOUT"
    ? {
      status_code: 408,
      error_type: "request_timeout",
      error_message: "The request did not arrive whole in time."
    }
    : badRequest("The request is not valid HTTP: check the request line and percent-encode the path.")
  return rawAnswer(answer, requestId)
}

/**
 * An error answer as the bytes of a whole HTTP/1.1 response, for a socket no `ServerResponse` holds.
 * It closes the connection, as nothing after it on that socket can be trusted to be a request.
 */
export const rawAnswer = (answer: ErrorAnswer, requestId: string): string => {
  const body = JSON.stringify(errorBody(answer, requestId))
  return [
    `HTTP/1.1 ${answer.status_code} ${STATUS_CODES[answer.status_code]}`,
    "content-type: application/json",
    ...Object.entries(answer.headers ?? {}).filter(([name]) => name !== "connection").map(([name, value]) =>
      `${name}: ${value}`
    ),
    `content-length: ${Buffer.byteLength(body)}`,
    "connection: close",
    "",
    body
  ].join("\r\n")
}

/** An API error from the store, answered with its own status and body but this request's id. */
export const respondApiError = (error: AnyApiError, requestId: string): HttpServerResponse.HttpServerResponse =>
  HttpServerResponse.unsafeJson({
    ...toErrorBody(error),
    request_id: requestId,
    error_url: error.error_url ?? errorUrlOf(error.status_code, error.error_type)
  }, { status: error.status_code })

export const badRequest = (error_message: string, error_details?: unknown): ErrorAnswer => ({
  status_code: 400,
  error_type: "bad_request",
  error_message,
  ...(error_details === undefined ? {} : { error_details })
})

export const unauthorized = (
  error_type: "unauthorized_credentials" | "invalid_project_id_authentication" | "invalid_secret_authentication"
): ErrorAnswer => ({
  status_code: 401,
  error_type,
  error_message: error_type === "unauthorized_credentials"
    ? "Unauthorized credentials: send the project id and secret with HTTP Basic authentication."
    : error_type === "invalid_project_id_authentication"
    ? "The project id is not valid."
    : "The secret is not valid for this project.",
  headers: { "www-authenticate": "Basic realm=\"stytch\"" }
})

export const routeNotFound: ErrorAnswer = {
  status_code: 404,
  error_type: "route_not_found",
  error_message: "No endpoint has this path."
}

export const methodNotAllowed = (allowed: ReadonlyArray<string>): ErrorAnswer => ({
  status_code: 405,
  error_type: "method_not_allowed",
  error_message: "The method used is not supported.",
  headers: { allow: allowed.join(", ") }
})

export const invalidPathClientId: ErrorAnswer = {
  status_code: 400,
  error_type: "m2m_client_invalid_client_id",
  error_message: "The client_id in the path is not validly percent-encoded."
}

export const requestTooLarge = (maxBodySize: number): ErrorAnswer => ({
  status_code: 413,
  error_type: "request_too_large",
  error_message: `The request body is over the limit of ${maxBodySize} bytes.`,
  headers: { connection: "close" }
})

export const unsupportedContentType: ErrorAnswer = {
  status_code: 415,
  error_type: "unsupported_content_type",
  error_message: "Send the request body as JSON, with Content-Type: application/json."
}

export const internalServerError: ErrorAnswer = {
  status_code: 500,
  error_type: "internal_server_error",
  error_message: "Oops, something seems to have gone wrong. If this issue persists, please reach out to support."
}

export const serverUnavailable: ErrorAnswer = {
  status_code: 503,
  error_type: "server_unavailable",
  error_message: "The server is temporarily unavailable. Please try again later."
}

const knownFilterNames = ["client_id", "client_name", "scopes"]

/** Which documented `m2m_search_*` type names what is wrong with one operand of a search query. */
const searchOperandErrorType = (operand: unknown): string => {
  if (typeof operand !== "object" || operand === null || !("filter_name" in operand)) {
    return "m2m_search_missing_filter_name"
  }
  const { filter_name } = operand as { readonly filter_name: unknown }
  if (typeof filter_name !== "string") return "m2m_search_filter_name_must_be_string"
  if (!knownFilterNames.includes(filter_name)) return "m2m_search_filter_name_not_recognized"
  if (!("filter_value" in operand)) return "m2m_search_missing_filter_value"
  const { filter_value } = operand as { readonly filter_value: unknown }
  // A list of strings that still broke the schema is over the bound on values, which Stytch does not name.
  const strings = Array.isArray(filter_value) && filter_value.every((value) => typeof value === "string")
  return strings ? "bad_request" : "m2m_search_expected_array_of_strings"
}

const operandPath = /^query\.operands\[(\d+)\]/

/**
 * The documented `error_type` closest to the field a request broke, so a raw client sees what the real
 * API would call it; `bad_request` where Stytch documents none.
 */
const invalidRequestErrorType = (error: InvalidRequest, body: unknown): string => {
  const field = error.field
  const top = field.split(/[.[]/, 1)[0]
  switch (top) {
    case "scopes":
      return "invalid_m2m_client_scope"
    case "status":
      return "invalid_m2m_client_status"
    case "trusted_metadata":
      return "metadata_invalid_format"
    case "client_secret":
      return error.rule === "must be at least 8 characters"
        ? "insecure_m2m_client_secret"
        : "m2m_client_invalid_client_secret"
    case "client_id":
      return "m2m_client_invalid_client_id"
    case "client_name":
      return "m2m_client_invalid_client_name"
    case "client_description":
      return "m2m_client_invalid_client_description"
    case "query": {
      const index = operandPath.exec(field)?.[1]
      if (index === undefined) return "bad_request"
      const operands = (body as { readonly query?: { readonly operands?: unknown } }).query?.operands
      return searchOperandErrorType(Array.isArray(operands) ? operands[Number(index)] : undefined)
    }
    default:
      return "bad_request"
  }
}

/** A request that broke its operation's schema, as a 400 naming the field and the rule. */
export const invalidRequestAnswer = (error: InvalidRequest, body: unknown): ErrorAnswer => ({
  status_code: 400,
  error_type: invalidRequestErrorType(error, body),
  error_message: `${error.field} ${error.rule}`,
  error_details: { field: error.field, rule: error.rule }
})
