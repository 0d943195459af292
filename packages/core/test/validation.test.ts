import { describe, expect, it } from "@effect/vitest"
import { Effect, Redacted } from "effect"
import { Operations, validateRequest } from "../src/index.js"

/** `{ a: { a: ... } }`, `depth` objects deep. */
const nested = (depth: number) => {
  let value: Record<string, unknown> = {}
  for (let level = 1; level < depth; level++) value = { a: value }
  return value
}

/** `[[[...]]]`, `depth` arrays deep. */
const nestedList = (depth: number) => {
  let value: Array<unknown> = []
  for (let level = 1; level < depth; level++) value = [value]
  return value
}

// Each rule of the request schemas: what breaks it, the field it names and the rule it states.
const rejected = [
  ["create", { scopes: "read" }, "scopes", "must be ReadonlyArray<Scope>"],
  ["create", {}, "scopes", "is missing"],
  ["create", { scopes: [""] }, "scopes[0]", "must be a non-empty string without whitespace"],
  ["create", { scopes: ["read", "read write"] }, "scopes[1]", "must be a non-empty string without whitespace"],
  ["create", { scopes: [], client_id: "" }, "client_id", "must be a non-empty string"],
  ["create", { scopes: [], client_secret: Redacted.make("short") }, "client_secret", "must be at least 8 characters"],
  [
    "create",
    { scopes: [], client_secret: "a-bare-string-secret" },
    "client_secret",
    "must be a Redacted string of at least 8 characters"
  ],
  ["create", { scopes: [], trusted_metadata: [1, 2] }, "trusted_metadata", "must be a JSON object"],
  ["create", { scopes: [], trusted_metadata: "{}" }, "trusted_metadata", "must be a JSON object"],
  ["create", { scopes: [], trusted_metadata: { at: () => 0 } }, "trusted_metadata", "must be a JSON object"],
  ["create", { scopes: [], trusted_metadata: { n: Number.NaN } }, "trusted_metadata", "must be a JSON object"],
  ["create", { scopes: [], trusted_metadata: { list: [1, undefined] } }, "trusted_metadata", "must be a JSON object"],
  ["create", { scopes: [], trusted_metadata: { at: new Date(0) } }, "trusted_metadata", "must be a JSON object"],
  [
    "create",
    { scopes: [], trusted_metadata: JSON.parse("{\"__proto__\":{\"polluted\":1}}") },
    "trusted_metadata",
    "must be a JSON object"
  ],
  ["create", { scopes: [], trusted_metadata: nested(65) }, "trusted_metadata", "must be a JSON object"],
  ["get", { client_id: "\ud83d" }, "client_id", "must be well-formed Unicode"],
  ["create", { scopes: [], client_id: "a\udc00" }, "client_id", "must be well-formed Unicode"],
  ["create", { scopes: [], client_name: 7 }, "client_name", "must be string"],
  // Refused before the schema, whose message would print the value and overflow the stack doing it.
  ["create", { scopes: [], client_name: nestedList(3000) }, "client_name", "must not nest deeper than 100 levels"],
  ["search", { query: { operator: "AND", operands: nestedList(200) } }, "query", "must not nest deeper than 100"],
  [
    "create",
    { scopes: [], client_secret: Redacted.make("long-enough-\ud800") },
    "client_secret",
    "must be well-formed Unicode"
  ],
  ["get", {}, "client_id", "is missing"],
  ["get", { client_id: "" }, "client_id", "must be a non-empty string"],
  ["get", { client_id: ".." }, "client_id", "must not be \".\" or \"..\""],
  ["update", { client_id: "." }, "client_id", "must not be \".\" or \"..\""],
  ["delete", { client_id: "" }, "client_id", "must be a non-empty string"],
  ["update", { client_id: "c", status: "deleted" }, "status", "must be \"active\" or \"inactive\""],
  ["update", { client_id: "c", scopes: ["ok", ""] }, "scopes[1]", "must be a non-empty string without whitespace"],
  ["update", { client_id: "c", trusted_metadata: null }, "trusted_metadata", "must be a JSON object"],
  ["search", { limit: 0 }, "limit", "must be an integer from 1 to 1000"],
  ["search", { limit: 1001 }, "limit", "must be an integer from 1 to 1000"],
  ["search", { limit: 2.5 }, "limit", "must be an integer from 1 to 1000"],
  ["search", { query: { operator: "XOR", operands: [] } }, "query.operator", "must be \"AND\""],
  [
    "search",
    { query: { operator: "AND", operands: [{ filter_name: "status", filter_value: ["active"] }] } },
    "query.operands[0].filter_name",
    "must be \"client_id\" | \"client_name\" | \"scopes\""
  ],
  [
    "search",
    { query: { operator: "OR", operands: [{ filter_name: "scopes", filter_value: "read" }] } },
    "query.operands[0].filter_value",
    "must be ReadonlyArray<string>"
  ],
  ["rotateStart", { client_id: "" }, "client_id", "must be a non-empty string"],
  ["rotateCancel", {}, "client_id", "is missing"],
  ["rotate", { client_id: 42 }, "client_id", "must be string"]
] as const

const accepted = [
  ["create", { scopes: [] }],
  ["create", {
    scopes: ["read:users"],
    client_id: "../search",
    client_secret: Redacted.make("correct horse battery staple"),
    client_name: "",
    trusted_metadata: { nested: { list: [1, "two", null, true] } }
  }],
  ["create", { scopes: [], client_id: "clïent-名前-🚀", trusted_metadata: nested(64) }],
  ["update", { client_id: "c", status: "inactive", scopes: [] }],
  ["search", {}],
  ["search", { limit: 1 }],
  ["search", { limit: 1000, cursor: "", query: { operator: "AND", operands: [] } }],
  // Only the operator is required.
  ["search", { query: { operator: "OR" } }],
  // An optional field given as undefined is not given, metadata included.
  ["update", { client_id: "c", client_name: undefined, trusted_metadata: undefined }]
] as const

describe("request validation", () => {
  it.effect.each(rejected)("%s rejects %j at %s", ([key, request, field, rule]) =>
    Effect.gen(function*() {
      const operation = Operations[key]
      const error = yield* Effect.flip(validateRequest(operation, request))
      expect(error._tag).toBe("InvalidRequest")
      expect(error.operation).toBe(operation.name)
      expect(error.field).toBe(field)
      expect(error.rule.startsWith(rule)).toBe(true)
      expect(error.message).toContain(`${field} ${rule}`)
      // The rule states what was expected, never the value that was sent.
      expect(error.rule).not.toContain("actual")
    }))

  it.effect.each(accepted)("%s accepts %j", ([key, request]) =>
    Effect.gen(function*() {
      const operation = Operations[key]
      const valid = yield* validateRequest(operation, request)
      expect(Object.keys(valid).sort()).toEqual(Object.keys(request).sort())
    }))

  it.effect("rejects metadata deep enough to overflow a recursive check, as a typed error", () =>
    Effect.gen(function*() {
      const error = yield* Effect.flip(
        validateRequest(Operations.create, { scopes: [], trusted_metadata: nested(1e5) })
      )
      expect(error.field).toBe("trusted_metadata")
    }))

  it.effect("never quotes a rejected secret", () =>
    Effect.gen(function*() {
      for (const client_secret of ["bare-secret-value", Redacted.make("tiny")]) {
        const error = yield* Effect.flip(validateRequest(Operations.create, { scopes: [], client_secret }))
        const shown = [error.message, String(error), JSON.stringify(error), error.toString()].join("\n")
        expect(shown).not.toContain("bare-secret-value")
        expect(shown).not.toContain("tiny")
      }
    }))
})
