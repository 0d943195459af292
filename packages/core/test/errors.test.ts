import { describe, expect, it } from "@effect/vitest"
import { Effect, Schema } from "effect"
import { ErrorBody, errorTypes, fromApiErrorFields, Operations, toErrorBody, tokenOperation } from "../src/index.js"

const fields = (error_type: string, status_code: number) => ({
  status_code,
  request_id: "request-id-test-1",
  error_type,
  error_message: "Something happened.",
  error_url: `https://stytch.com/docs/api/errors/${status_code}`
})

// Every documented error_type, the status Stytch gives it, and the tag callers catch it by.
const documented = [
  ["m2m_client_not_found", 404, "ClientNotFound", Operations.get],
  ["duplicate_m2m_client_id", 409, "DuplicateClientId", Operations.create],
  ["insecure_m2m_client_secret", 400, "InvalidClientSecret", Operations.create],
  ["m2m_client_invalid_client_secret", 400, "InvalidClientSecret", Operations.create],
  ["client_secret_too_long", 400, "InvalidClientSecret", Operations.create],
  ["invalid_m2m_client_scope", 400, "InvalidScope", Operations.update],
  ["too_many_m2m_client_scopes", 400, "InvalidScope", Operations.create],
  ["m2m_client_already_rotating_secret", 400, "SecretAlreadyRotating", Operations.rotateStart],
  ["m2m_client_not_rotating_secret", 400, "SecretNotRotating", Operations.rotate],
  ["m2m_client_not_rotating_secret", 400, "SecretNotRotating", Operations.rotateCancel],
  ["m2m_search_filter_name_not_recognized", 400, "InvalidSearchQuery", Operations.search],
  ["m2m_search_missing_filter_name", 400, "InvalidSearchQuery", Operations.search],
  ["m2m_search_missing_filter_value", 400, "InvalidSearchQuery", Operations.search],
  ["m2m_search_expected_array_of_strings", 400, "InvalidSearchQuery", Operations.search],
  ["m2m_search_filter_name_must_be_string", 400, "InvalidSearchQuery", Operations.search],
  ["invalid_search_cursor", 400, "InvalidSearchQuery", Operations.search],
  ["unauthorized_credentials", 401, "Unauthorized", Operations.get],
  ["invalid_secret_authentication", 401, "Unauthorized", Operations.search],
  ["invalid_project_id_authentication", 401, "Unauthorized", Operations.create],
  ["too_many_requests", 429, "RateLimited", Operations.delete],
  ["internal_server_error", 500, "ServerError", Operations.update],
  ["server_unavailable", 503, "ServerError", Operations.rotate],
  // The token endpoint's OAuth2 errors.
  ["invalid_client", 400, "InvalidClientCredentials", tokenOperation],
  ["invalid_scope", 400, "ScopeNotGranted", tokenOperation],
  ["unauthorized_client", 400, "ClientInactive", tokenOperation],
  ["invalid_grant", 400, "InvalidGrant", tokenOperation],
  ["unsupported_grant_type", 400, "InvalidGrant", tokenOperation],
  // An OAuth2 error only the token endpoint answers is a general error anywhere else.
  ["invalid_client", 400, "ApiError", Operations.get],
  // Documented, but not worth a class of their own: the general error keeps the type.
  ["m2m_client_invalid_client_name", 400, "ApiError", Operations.create],
  ["invalid_m2m_client_status", 400, "ApiError", Operations.update],
  ["metadata_too_large", 400, "ApiError", Operations.update],
  // Unknown types: by status where it says enough, else the general error.
  ["brand_new_error_type", 400, "ApiError", Operations.get],
  ["brand_new_error_type", 502, "ServerError", Operations.get],
  ["brand_new_error_type", 429, "RateLimited", Operations.get],
  ["brand_new_error_type", 401, "Unauthorized", Operations.get]
] as const

describe("fromApiErrorFields", () => {
  it.each(documented)("%s (HTTP %i) is %s", (errorType, status, tag, operation) => {
    const error = fromApiErrorFields(fields(errorType, status), operation.errors)
    expect(error._tag).toBe(tag)
    expect(error).toMatchObject(fields(errorType, status))
  })

  it("covers every documented error_type in one table", () => {
    expect(Object.keys(errorTypes).sort()).toEqual(
      [...new Set(documented.filter(([, , tag]) => tag !== "ApiError").map(([type]) => type))]
        .filter((type) => type !== "brand_new_error_type").sort()
    )
  })

  it("keeps each operation's error union exact: an error the operation cannot produce is an ApiError", () => {
    const error = fromApiErrorFields(fields("m2m_client_already_rotating_secret", 400), Operations.get.errors)
    expect(error._tag).toBe("ApiError")
    expect(error.error_type).toBe("m2m_client_already_rotating_secret")
  })

  it("gives a readable message with what helps debugging", () => {
    const error = fromApiErrorFields({ ...fields("m2m_client_not_found", 404), attempts: 1 }, Operations.get.errors)
    expect(error.message).toBe("m2m_client_not_found: Something happened. (HTTP 404, request request-id-test-1)")
    const retried = fromApiErrorFields({ ...fields("server_unavailable", 503), attempts: 4 }, [])
    expect(retried.message).toContain("after 4 attempts")
  })

  it("keeps Retry-After on a RateLimited", () => {
    const error = fromApiErrorFields({ ...fields("too_many_requests", 429), retry_after_millis: 2000 }, [])
    expect(error._tag === "RateLimited" && error.retry_after_millis).toBe(2000)
  })
})

describe("ErrorBody", () => {
  it.effect("decodes Stytch's error body", () =>
    Effect.gen(function*() {
      const body = { ...fields("m2m_client_not_found", 404), error_details: { client_id: "x" } }
      expect(yield* Schema.decodeUnknown(ErrorBody)(body)).toEqual(body)
    }))

  it.effect("decodes the OAuth2 shape onto the same fields", () =>
    Effect.gen(function*() {
      const body = yield* Schema.decodeUnknown(ErrorBody)({
        error: "invalid_client",
        error_description: "Client authentication failed.",
        error_uri: "https://stytch.com/docs/api/errors/401",
        request_id: "request-id-test-2",
        status_code: 401
      })
      expect(body).toEqual({
        error_type: "invalid_client",
        error_message: "Client authentication failed.",
        error_url: "https://stytch.com/docs/api/errors/401",
        request_id: "request-id-test-2",
        status_code: 401
      })
    }))

  it.effect("reads null optional fields as absent", () =>
    Effect.gen(function*() {
      const body = yield* Schema.decodeUnknown(ErrorBody)({
        ...fields("m2m_client_not_found", 404),
        request_id: null,
        error_message: null,
        error_url: null
      })
      expect(body).toEqual({ error_type: "m2m_client_not_found", status_code: 404, error_message: "" })
    }))

  it.effect("rejects a body with no error type", () =>
    Effect.gen(function*() {
      const result = yield* Effect.either(Schema.decodeUnknown(ErrorBody)({ message: "Bad Gateway" }))
      expect(result._tag).toBe("Left")
    }))

  it.effect("toErrorBody writes what ErrorBody reads", () =>
    Effect.gen(function*() {
      const error = fromApiErrorFields(fields("duplicate_m2m_client_id", 409), Operations.create.errors)
      const decoded = yield* Schema.decodeUnknown(ErrorBody)(JSON.parse(JSON.stringify(toErrorBody(error))))
      expect(fromApiErrorFields({ ...decoded, status_code: decoded.status_code ?? 0 }, Operations.create.errors))
        .toEqual(error)
    }))
})
