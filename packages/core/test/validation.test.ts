import { describe, expect, it } from "@effect/vitest"
import { Effect, Redacted, Schema, SchemaAST } from "effect"
import {
  encodeRequest,
  M2MSearchOperand,
  M2MSearchQuery,
  maxSearchFilterValues,
  maxSearchOperands,
  Operations,
  validateRequest
} from "../src/index.js"

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

const jsonObject = "must be a JSON object, at most 64 levels deep, without a __proto__ key"

// Each rule of the request schemas: what breaks it, the field it names and the rule it states.
const rejected = [
  ["create", { scopes: "read" }, "scopes", "must be a list of scopes"],
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
  ["create", { scopes: [], trusted_metadata: [1, 2] }, "trusted_metadata", jsonObject],
  ["create", { scopes: [], trusted_metadata: "{}" }, "trusted_metadata", jsonObject],
  ["create", { scopes: [], trusted_metadata: { at: () => 0 } }, "trusted_metadata", jsonObject],
  ["create", { scopes: [], trusted_metadata: { n: Number.NaN } }, "trusted_metadata", jsonObject],
  ["create", { scopes: [], trusted_metadata: { list: [1, undefined] } }, "trusted_metadata", jsonObject],
  ["create", { scopes: [], trusted_metadata: { at: new Date(0) } }, "trusted_metadata", jsonObject],
  [
    "create",
    { scopes: [], trusted_metadata: JSON.parse("{\"__proto__\":{\"polluted\":1}}") },
    "trusted_metadata",
    jsonObject
  ],
  ["create", { scopes: [], trusted_metadata: nested(65) }, "trusted_metadata", jsonObject],
  ["get", { client_id: "\ud83d" }, "client_id", "must be well-formed Unicode"],
  ["create", { scopes: [], client_id: "a\udc00" }, "client_id", "must be well-formed Unicode"],
  ["create", { scopes: [], client_name: 7 }, "client_name", "must be a string"],
  // Refused before the schema, whose message would print the value and overflow the stack doing it.
  ["create", { scopes: [], client_name: nestedList(3000) }, "client_name", "must not nest deeper than 100 levels"],
  [
    "search",
    { query: { operator: "AND", operands: nestedList(200) } },
    "query",
    "must not nest deeper than 100 levels"
  ],
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
  ["update", { client_id: "c", trusted_metadata: null }, "trusted_metadata", jsonObject],
  ["search", { limit: 0 }, "limit", "must be an integer from 1 to 1000"],
  ["search", { limit: 1001 }, "limit", "must be an integer from 1 to 1000"],
  ["search", { limit: 2.5 }, "limit", "must be an integer from 1 to 1000"],
  ["search", { query: { operator: "XOR", operands: [] } }, "query.operator", "must be \"AND\" or \"OR\""],
  [
    "search",
    { query: { operator: "AND", operands: [{ filter_name: "status", filter_value: ["active"] }] } },
    "query.operands[0].filter_name",
    "must be \"client_id\", \"client_name\" or \"scopes\""
  ],
  [
    "search",
    { query: { operator: "OR", operands: [{ filter_name: "scopes", filter_value: "read" }] } },
    "query.operands[0].filter_value",
    "must be a list of strings"
  ],
  ["rotateStart", { client_id: "" }, "client_id", "must be a non-empty string"],
  ["rotateCancel", {}, "client_id", "is missing"],
  ["rotate", { client_id: 42 }, "client_id", "must be a string"]
] as const

const aList = ["a"]
const query = (query: unknown) => ({ query })
const operand = (fields: object) => query({ operator: "AND", operands: [{ filter_name: "scopes", ...fields }] })

/**
 * Every request field of every operation given a value of the wrong kind: the message speaks the
 * API's words (a list, a string, a number), never a schema's TypeScript type.
 */
const wrongKinds = [
  ["create", "(request)", "a string", "must be a JSON object"],
  ["create", "scopes", { scopes: "read" }, "must be a list of scopes"],
  ["create", "scopes[0]", { scopes: [5] }, "must be a string"],
  ["create", "client_id", { scopes: [], client_id: 5 }, "must be a string"],
  ["create", "client_secret", { scopes: [], client_secret: 5 }, "must be a Redacted string of at least 8 characters"],
  ["create", "client_name", { scopes: [], client_name: aList }, "must be a string"],
  ["create", "client_description", { scopes: [], client_description: 5 }, "must be a string"],
  ["create", "trusted_metadata", { scopes: [], trusted_metadata: aList }, jsonObject],
  ["get", "(request)", null, "must be a JSON object"],
  ["get", "client_id", { client_id: aList }, "must be a string"],
  ["update", "(request)", 5, "must be a JSON object"],
  ["update", "client_id", { client_id: null }, "must be a string"],
  ["update", "client_name", { client_id: "c", client_name: 5 }, "must be a string"],
  ["update", "client_description", { client_id: "c", client_description: {} }, "must be a string"],
  ["update", "status", { client_id: "c", status: true }, "must be \"active\" or \"inactive\""],
  ["update", "scopes", { client_id: "c", scopes: { read: true } }, "must be a list of scopes"],
  ["update", "scopes[0]", { client_id: "c", scopes: [null] }, "must be a string"],
  ["update", "trusted_metadata", { client_id: "c", trusted_metadata: 5 }, jsonObject],
  ["delete", "client_id", { client_id: 5 }, "must be a string"],
  ["search", "(request)", [], "must be a JSON object"],
  ["search", "cursor", { cursor: 5 }, "must be a string"],
  ["search", "limit", { limit: "10" }, "must be a number"],
  ["search", "query", query("AND"), "must be a JSON object with an operator"],
  ["search", "query.operator", query({ operator: "XOR" }), "must be \"AND\" or \"OR\""],
  ["search", "query.operator", query({ operator: 1 }), "must be \"AND\" or \"OR\""],
  ["search", "query.operands", query({ operator: "OR", operands: {} }), "must be a list of operands"],
  [
    "search",
    "query.operands[0]",
    query({ operator: "OR", operands: ["scopes"] }),
    "must be a JSON object with filter_name and filter_value"
  ],
  [
    "search",
    "query.operands[0].filter_name",
    operand({ filter_name: "status", filter_value: aList }),
    "must be \"client_id\", \"client_name\" or \"scopes\""
  ],
  ["search", "query.operands[0].filter_value", operand({ filter_value: "read" }), "must be a list of strings"],
  ["search", "query.operands[0].filter_value[0]", operand({ filter_value: [1] }), "must be a string"],
  ["rotateStart", "client_id", { client_id: false }, "must be a string"],
  ["rotateCancel", "client_id", { client_id: 1 }, "must be a string"],
  ["rotate", "(request)", "c", "must be a JSON object"],
  ["rotate", "client_id", { client_id: [] }, "must be a string"]
] as const

/** Core's bounds on a search query, which every implementation enforces before it runs the query. */
const overBounds = [
  [
    "operands",
    query({
      operator: "AND",
      operands: Array.from({ length: maxSearchOperands + 1 }, () => ({ filter_name: "scopes", filter_value: aList }))
    }),
    "query.operands",
    `must hold at most ${maxSearchOperands} operands`
  ],
  [
    "values in one operand",
    operand({ filter_value: Array.from({ length: maxSearchFilterValues + 1 }, (_, i) => `scope-${i}`) }),
    "query.operands[0].filter_value",
    `must hold at most ${maxSearchFilterValues} values`
  ]
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
      expect(error.rule).toBe(rule)
      expect(error.message).toContain(`${field} ${rule}`)
      // The rule states what was expected, never the value that was sent.
      expect(error.rule).not.toContain("actual")
    }))

  it.effect.each(wrongKinds)(
    "%s names %s in the API's words for %j",
    ([key, field, request, rule]) =>
      Effect.gen(function*() {
        const error = yield* Effect.flip(validateRequest(Operations[key], request))
        expect({ field: error.field, rule: error.rule }).toEqual({ field, rule })
      })
  )

  it("the table names every request field of every operation", () => {
    const named = new Set(wrongKinds.map(([key, field]) => `${key} ${field.replace(/\[0\]/g, "")}`))
    const fields = (ast: SchemaAST.AST, prefix: string): ReadonlyArray<string> =>
      SchemaAST.getPropertySignatures(ast).map(({ name }) => `${prefix}${String(name)}`)
    for (const key of Object.keys(Operations) as Array<keyof typeof Operations>) {
      for (const field of fields(Operations[key].request.ast, "")) expect(named).toContain(`${key} ${field}`)
    }
    for (const field of fields(M2MSearchQuery.ast, "query.")) expect(named).toContain(`search ${field}`)
    for (const field of fields(M2MSearchOperand.ast, "query.operands.")) expect(named).toContain(`search ${field}`)
  })

  it.effect.each(overBounds)(
    "search refuses a query over its bound on %s",
    ([, request, field, rule]) =>
      Effect.gen(function*() {
        const error = yield* Effect.flip(validateRequest(Operations.search, request))
        expect({ field: error.field, rule: error.rule }).toEqual({ field, rule })
      })
  )

  it.effect("search accepts a query at its bounds", () =>
    Effect.gen(function*() {
      const values = Array.from({ length: maxSearchFilterValues }, (_, i) => `scope-${i}`)
      const operands = Array.from(
        { length: maxSearchOperands },
        () => ({ filter_name: "scopes", filter_value: values })
      )
      yield* validateRequest(Operations.search, query({ operator: "AND", operands }))
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

describe("request encoding (validation and the wire form in one pass)", () => {
  it.effect.each(rejected)(
    "%s refuses %j at %s exactly as validation does",
    ([key, request]) =>
      Effect.gen(function*() {
        const operation = Operations[key]
        const validated = yield* Effect.flip(validateRequest(operation, request))
        const encoded = yield* Effect.flip(encodeRequest(operation, request))
        expect(encoded).toStrictEqual(validated)
      })
  )

  it.effect.each(accepted)("%s encodes %j to its wire form", ([key, request]) =>
    Effect.gen(function*() {
      const operation = Operations[key]
      const encoded = yield* encodeRequest(operation, request)
      expect(encoded).toStrictEqual(
        yield* Schema.encodeUnknown(operation.request as Schema.Schema<unknown, unknown>)(request)
      )
    }))

  it.effect("refuses metadata too deep for the schema, as validation does", () =>
    Effect.gen(function*() {
      const request = { scopes: [], trusted_metadata: nested(1e5) }
      const encoded = yield* Effect.flip(encodeRequest(Operations.create, request))
      expect(encoded).toStrictEqual(yield* Effect.flip(validateRequest(Operations.create, request)))
    }))

  it.effect("gives a secret's wire form, the plain string, only in the encoded request", () =>
    Effect.gen(function*() {
      const encoded = yield* encodeRequest(Operations.create, {
        scopes: [],
        client_secret: Redacted.make("correct horse battery staple")
      })
      expect(encoded.client_secret).toBe("correct horse battery staple")
    }))
})
