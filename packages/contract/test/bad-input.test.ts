/**
 * Bad input, generated: odd client ids (`/`, `..`, `%`, unicode, control characters, 100,000
 * characters), scopes, names and metadata of every odd shape, sent through the http layer to the
 * emulator; then raw requests no client would send (malformed JSON, wrong types, huge bodies, odd
 * paths) straight at the emulator.
 *
 * Whatever comes in, each operation succeeds or fails with one of its typed errors, the emulator never
 * answers 5XX (no faults are on here), no secret shows up in any error's text, and a refused request
 * leaves the store as it was.
 */
import { HttpBody, HttpClient, HttpClientRequest } from "@effect/platform"
import { NodeHttpClient } from "@effect/platform-node"
import { describe, expect, layer } from "@effect/vitest"
import type {
  JsonObject,
  M2MClient,
  M2MClientsCreateRequest,
  M2MClientsSearchRequest,
  M2MClientsUpdateRequest
} from "@stytch-effect/core"
import { M2MClients, maxSearchFilterValues, maxSearchOperands } from "@stytch-effect/core"
import { Emulator } from "@stytch-effect/emulator"
import { HttpM2MClients } from "@stytch-effect/http"
import { Cause, Chunk, Effect, Exit, FastCheck as fc, Layer, Logger, LogLevel, Option, Redacted, Stream } from "effect"
import { connect } from "node:net"

// ---------------------------------------------------------------------------------------------------
// Secrets to look for: the project's, every custom client secret sent, every secret the server made.
// ---------------------------------------------------------------------------------------------------

const projectId = "project-test-bad-input-0000-0000-000000000000"
const projectSecret = "secret-test-PROJECT-CANARY-9f3b7c1e2d"

/** Each custom client secret carries this, so a secret quoted even in part is found. */
const secretCanary = "Kx7-CANARY-"

/** Every secret seen so far; none may appear in any error text. */
const secretsSeen = new Set<string>([projectSecret])

const errorTexts = (error: unknown): ReadonlyArray<string> => [
  String(error),
  error instanceof Error ? error.message : "",
  JSON.stringify(error) ?? ""
]

const leakedSecrets = (error: unknown): ReadonlyArray<string> => {
  const texts = errorTexts(error)
  const found = [...secretsSeen].filter((secret) => texts.some((text) => text.includes(secret)))
  return texts.some((text) => text.includes(secretCanary)) ? [...found, secretCanary] : found
}

// ---------------------------------------------------------------------------------------------------
// Outcomes: what each operation may end in when given bad input.
// ---------------------------------------------------------------------------------------------------

/** Errors a bad request may meet: the request's own fault, or the state it met. Never the server's. */
const typedErrors = new Set([
  "InvalidRequest",
  "InvalidScope",
  "InvalidClientSecret",
  "InvalidSearchQuery",
  "ClientNotFound",
  "DuplicateClientId",
  "SecretAlreadyRotating",
  "SecretNotRotating",
  "ApiError"
])

/**
 * What is wrong with an operation's outcome, if anything: a defect, an error outside `typedErrors`, an
 * `ApiError` that is not a 4XX, or a secret in the error's text.
 */
const outcomeProblem = <A>(exit: Exit.Exit<A, unknown>): string | undefined => {
  if (Exit.isSuccess(exit)) return undefined
  const failure = Cause.failureOption(exit.cause)
  if (Cause.isDie(exit.cause) || Cause.isInterrupted(exit.cause) || Option.isNone(failure)) {
    return `not a typed error: ${Cause.pretty(exit.cause).split("\n").slice(0, 3).join(" ")}`
  }
  const error = failure.value as { readonly _tag?: unknown; readonly status_code?: unknown }
  if (typeof error._tag !== "string" || !typedErrors.has(error._tag)) return `unexpected error ${String(error)}`
  if (typeof error.status_code === "number" && (error.status_code < 400 || error.status_code >= 500)) {
    return `answered ${error.status_code}: ${String(error)}`
  }
  const leaked = leakedSecrets(error)
  if (leaked.length > 0) return `${error._tag} holds a secret in its text`
  return undefined
}

/**
 * Runs an operation and fails the property (with the reason) unless its outcome is acceptable. The call
 * is made inside `Effect.suspend`, so a method that throws instead of returning an effect is caught too.
 */
const checked = <A, E, R>(what: string, call: () => Effect.Effect<A, E, R>) =>
  Effect.flatMap(Effect.exit(Effect.suspend(call)), (exit) => {
    const problem = outcomeProblem(exit)
    return problem === undefined ? Effect.succeed(exit) : Effect.dieMessage(`${what}: ${problem}`)
  })

// ---------------------------------------------------------------------------------------------------
// Arbitraries
// ---------------------------------------------------------------------------------------------------

/** Pieces that paths, percent-decoding, JSON and terminals each treat specially. */
const oddPiece = fc.constantFrom(
  "/",
  "..",
  ".",
  "%",
  "%2F",
  "%2e%2e",
  "%25",
  "%00",
  "%E0%A4%A",
  "?",
  "#",
  ";",
  "\\",
  " ",
  "\t",
  "\n",
  "\r\n",
  "\u0000",
  "\u007f",
  "\u0085",
  "\u200b",
  "\u202e",
  "\ufeff",
  "é",
  "e\u0301",
  "日本",
  "🙂",
  "\ud83d",
  "\udc00",
  ":",
  "@",
  "+",
  "&",
  "=",
  "'",
  "\"",
  "<script>",
  "search",
  "secrets",
  "rotate",
  "__proto__"
)

/** Strings of every odd sort, up to 100,000 characters. */
const oddString = fc.oneof(
  fc.array(oddPiece, { minLength: 1, maxLength: 8 }).map((pieces) => pieces.join("")),
  fc.string({ unit: "binary", maxLength: 30 }),
  fc.string({ unit: "grapheme", minLength: 1, maxLength: 30 }),
  fc.tuple(oddPiece, fc.integer({ min: 129, max: 100_000 })).map(([piece, length]) =>
    piece.repeat(Math.ceil(length / piece.length)).slice(0, length)
  )
)

/** The seeded clients' ids, which the generated ids stay clear of so that reaching one shows a bug. */
const seededIds = ["existing", "search", "a/b", "%41"]

/** Client ids: the odd ones, the two that can never travel in a path, and some that are plainly fine. */
const oddClientId = fc.oneof(
  { weight: 6, arbitrary: oddString },
  { weight: 1, arbitrary: fc.constantFrom(".", "..", "", "../search", "a/b/c", "%2541", "search/", "a%2Fb") },
  { weight: 1, arbitrary: fc.uuid().map((id) => `fine-${id}`) }
).filter((id) => !seededIds.includes(id))

const oddNumber = fc.oneof(
  fc.constantFrom(0, -0, 1e308, -1e308, 5e-324, 2 ** 53 + 1, 1e21, 0.1 + 0.2, Number.NaN, Infinity, -Infinity),
  fc.double()
)

const oddLeaf = fc.oneof(oddString, oddNumber, fc.boolean(), fc.constant(null))

/**
 * How deep generated metadata nests. Deeper metadata overflows the stack in core's request schema; the
 * focused tests below show that, so the generated cases can look for other bugs.
 */
const maxGeneratedDepth = 1_000

/** `{ k: { k: ... } }` or `[[...]]`, `depth` levels down. */
const nested = (depth: number, asArray: boolean, leaf: unknown): unknown => {
  let value = leaf
  for (let i = 0; i < depth; i++) value = asArray ? [value] : { k: value }
  return value
}

/** An object with own keys as given, `__proto__` included as a plain key (as JSON.parse makes it). */
const objectOf = (entries: ReadonlyArray<readonly [string, unknown]>) => Object.fromEntries(entries)

const oddMetadata: fc.Arbitrary<unknown> = fc.oneof(
  fc.array(fc.tuple(oddString, fc.jsonValue({ maxDepth: 3 })), { maxLength: 5 }).map(objectOf),
  fc.array(fc.tuple(fc.string(), oddLeaf), { minLength: 15, maxLength: 300 }).map(objectOf),
  fc.tuple(fc.integer({ min: 10, max: maxGeneratedDepth }), fc.boolean(), oddLeaf).map(([depth, asArray, leaf]) => ({
    deep: nested(depth, asArray, leaf)
  })),
  fc.array(fc.tuple(fc.constantFrom("__proto__", "constructor", "prototype", "toString", ""), oddLeaf), {
    minLength: 1,
    maxLength: 4
  }).map(objectOf),
  oddLeaf.map((value) => ({ value })),
  fc.constantFrom<unknown>([], [1, 2], "metadata", 42, null)
)

const oddScopes: fc.Arbitrary<unknown> = fc.oneof(
  fc.array(oddString, { maxLength: 5 }),
  fc.array(fc.constantFrom("read:clients", "a", "x".repeat(128), "x".repeat(129)), { minLength: 40, maxLength: 200 }),
  fc.array(oddLeaf, { maxLength: 3 }),
  fc.constantFrom<unknown>("read:clients", null, {}, [[]])
)

let secretCount = 0
/** A custom secret, odd or fine, each carrying the canary so any quotation of it is found. */
const oddSecret = fc.oneof(oddString, fc.constant("Fine-Secret-4821-abcXYZ")).map((tail) => {
  const secret = `${secretCanary}${++secretCount}-${tail}`
  secretsSeen.add(secret)
  return Redacted.make(secret)
})

const oddOptional = <A>(arbitrary: fc.Arbitrary<A>) => fc.option(arbitrary, { nil: undefined, freq: 2 })

/** Fields left out when undefined, so a request holds only what was generated. */
const definedFields = <A extends object>(fields: A): A =>
  Object.fromEntries(Object.entries(fields).filter(([, value]) => value !== undefined)) as A

const oddCreate = fc.record({
  client_id: oddOptional(oddClientId),
  client_secret: oddOptional(oddSecret),
  client_name: oddOptional(oddString),
  client_description: oddOptional(oddString),
  scopes: oddScopes,
  trusted_metadata: oddOptional(oddMetadata)
}).map(definedFields)

const oddUpdate = fc.record({
  client_name: oddOptional(oddString),
  client_description: oddOptional(oddString),
  status: oddOptional(fc.oneof(fc.constantFrom("active", "inactive", "deleted", "ACTIVE", ""), oddLeaf)),
  scopes: oddOptional(oddScopes),
  trusted_metadata: oddOptional(oddMetadata)
}).map(definedFields)

const oddSearch = fc.record({
  cursor: oddOptional(fc.oneof(oddString, fc.constant(""))),
  limit: oddOptional(fc.oneof(oddNumber, fc.integer({ min: -5, max: 2_000 }))),
  query: oddOptional(fc.oneof(
    fc.record({
      operator: fc.constantFrom("AND", "OR", "XOR", "and", ""),
      operands: fc.array(
        fc.record({
          filter_name: fc.constantFrom("client_id", "client_name", "scopes", "status", ""),
          filter_value: fc.oneof(fc.array(oddString, { maxLength: 4 }), oddLeaf)
        }),
        { maxLength: 4 }
      )
    }),
    oddLeaf
  ))
}).map(definedFields)

// ---------------------------------------------------------------------------------------------------
// The emulator, the http layer over it, and a look at the store behind it
// ---------------------------------------------------------------------------------------------------

const seed = seededIds.map((client_id) =>
  client_id === "existing"
    ? { client_id, scopes: ["read:clients"], trusted_metadata: { team: "billing" } }
    : { client_id }
).map((client, i) => ({ ...client, client_secret: Redacted.make(`Seed-S3cret-xYzQ9wK7-${i}`) }))

/** What the emulator logs as an error: it does so only when it failed to serve a request. */
const emulatorErrors: Array<string> = []

const emulatorLayer = Layer.merge(
  Emulator.layerMemory({ projectId, secret: Redacted.make(projectSecret), memory: { seed } }).pipe(
    Layer.provide(Logger.replace(
      Logger.defaultLogger,
      Logger.make(({ logLevel, message }) => {
        if (LogLevel.greaterThanEqual(logLevel, LogLevel.Error)) emulatorErrors.push(String(message))
      })
    ))
  ),
  NodeHttpClient.layerUndici
)

/** The http layer over the emulator, one attempt per call: nothing here should need another. */
const httpClients = Effect.flatMap(
  Emulator,
  ({ baseUrl, projectId, secret }) =>
    HttpM2MClients.make({ projectId, secret, baseUrl, retry: false, timeout: "10 seconds" })
)

/** Every client in the store, read through its own service, as plain comparable values. */
const storeContents = Effect.flatMap(M2MClients, (store) =>
  Effect.gen(function*() {
    const found: Array<M2MClient> = []
    let cursor: string | undefined
    do {
      const page = yield* store.search({ limit: 1000, ...(cursor === undefined ? {} : { cursor }) })
      found.push(...page.m2m_clients)
      cursor = page.results_metadata.next_cursor ?? undefined
    } while (cursor !== undefined)
    return found.map((client) => ({ ...client }))
  }).pipe(Effect.orDie))

const storedClient = (client_id: string) =>
  Effect.map(storeContents, (clients) => clients.find((client) => client.client_id === client_id))

/** Learns the secrets a success shows, so later errors are searched for them too. */
const learnSecrets = (response: object) => {
  const client = (response as { readonly m2m_client?: Record<string, unknown> }).m2m_client ?? {}
  for (const key of ["client_secret", "next_client_secret"]) {
    const secret = client[key]
    if (Redacted.isRedacted(secret)) secretsSeen.add(Redacted.value(secret as Redacted.Redacted<string>))
  }
}

const fastCheck = { numRuns: 40, seed: 7, endOnFailure: true } as const

layer(emulatorLayer, { excludeTestServices: true })("bad input through the http layer", (it) => {
  describe("client ids", () => {
    it.scoped.prop(
      "every operation on an odd id succeeds or fails typed, and a created id reaches its own client",
      [oddClientId],
      ([client_id]) =>
        Effect.gen(function*() {
          const http = yield* httpClients
          const created = yield* checked("create", () => http.create({ client_id, scopes: [] }))
          if (Exit.isSuccess(created)) {
            learnSecrets(created.value)
            expect(created.value.m2m_client.client_id).toBe(client_id)
            const got = yield* checked("get", () => http.get({ client_id }))
            expect(Exit.isSuccess(got) && got.value.m2m_client.client_id).toBe(client_id)
            expect((yield* storedClient(client_id))?.client_id).toBe(client_id)
          }
          const request = { client_id }
          for (
            const [what, call] of [
              ["get", () => http.get(request)],
              ["update", () => http.update({ client_id, client_name: "renamed" })],
              ["rotateStart", () => Effect.tap(http.secrets.rotateStart(request), learnSecrets)],
              ["rotateCancel", () => http.secrets.rotateCancel(request)],
              ["rotateStart", () => Effect.tap(http.secrets.rotateStart(request), learnSecrets)],
              ["rotate", () => http.secrets.rotate(request)],
              ["delete", () => http.delete(request)]
            ] as const
          ) {
            yield* checked(what, call as () => Effect.Effect<unknown, unknown>)
          }
          // None of the seeded clients was reached by way of an odd path.
          for (const { client_id: seeded } of seed) {
            if (seeded !== client_id) expect((yield* storedClient(seeded))?.client_name).toBe("")
          }
        }),
      { fastCheck }
    )
  })

  describe("create", () => {
    it.scoped.prop(
      "odd scopes, names, descriptions, metadata and secrets succeed as sent or fail typed",
      [oddCreate],
      ([request]) =>
        Effect.gen(function*() {
          const http = yield* httpClients
          const before = yield* storeContents
          const created = yield* checked("create", () => http.create(request as M2MClientsCreateRequest))
          if (Exit.isSuccess(created)) {
            learnSecrets(created.value)
            const stored = yield* storedClient(created.value.m2m_client.client_id)
            const sent = request as M2MClientsCreateRequest
            expect(stored).toMatchObject({
              client_name: sent.client_name ?? "",
              client_description: sent.client_description ?? "",
              scopes: sent.scopes
            })
            // JSON has no -0, and the store holds what JSON carried.
            expect(stored?.trusted_metadata).toEqual(JSON.parse(JSON.stringify(sent.trusted_metadata ?? {})))
            yield* checked("delete", () => http.delete({ client_id: created.value.m2m_client.client_id }))
          } else {
            expect(yield* storeContents).toEqual(before)
          }
        }),
      { fastCheck }
    )
  })

  describe("update", () => {
    it.scoped.prop(
      "odd fields on an existing client change it as sent or fail typed and change nothing",
      [oddUpdate],
      ([fields]) =>
        Effect.gen(function*() {
          const http = yield* httpClients
          const before = yield* storedClient("existing")
          const updated = yield* checked(
            "update",
            () => http.update({ client_id: "existing", ...fields } as M2MClientsUpdateRequest)
          )
          const after = yield* storedClient("existing")
          if (Exit.isSuccess(updated)) {
            const sent = fields as Partial<M2MClientsUpdateRequest>
            expect(after).toEqual({
              ...before,
              ...JSON.parse(JSON.stringify(sent))
            })
            // Put it back, for the next run's comparison and the seeded-client checks.
            yield* checked(
              "restore",
              () =>
                http.update({
                  client_id: "existing",
                  client_name: "",
                  client_description: "",
                  status: "active",
                  scopes: ["read:clients"],
                  trusted_metadata: { team: "billing" } satisfies JsonObject
                })
            )
          } else {
            expect(after).toEqual(before)
          }
        }),
      { fastCheck }
    )
  })

  describe("search", () => {
    it.scoped.prop(
      "odd cursors, limits and queries answer a page or fail typed",
      [oddSearch],
      ([request]) =>
        Effect.gen(function*() {
          const http = yield* httpClients
          yield* checked("search", () => http.search(request as M2MClientsSearchRequest))
        }),
      { fastCheck }
    )
  })
})

// ---------------------------------------------------------------------------------------------------
// Inputs found to break a layer, pinned one by one
// ---------------------------------------------------------------------------------------------------

const deepMetadata = (depth: number) => ({ deep: nested(depth, false, 1) }) as unknown as JsonObject

/** The outcome's problem, and whether it failed: a refused bad input reads `[undefined, true]`. */
const verdict = <A, E>(exit: Exit.Exit<A, E>) => [outcomeProblem(exit), Exit.isFailure(exit)]

layer(emulatorLayer, { excludeTestServices: true })("inputs that once broke a layer, through the http layer", (it) => {
  it.scoped.each([2_000, 10_000])(
    "metadata nested %i levels deep fails typed on create and update",
    (depth) =>
      Effect.gen(function*() {
        const http = yield* httpClients
        const before = yield* storeContents
        const created = yield* Effect.exit(
          Effect.suspend(() => http.create({ scopes: [], trusted_metadata: deepMetadata(depth) }))
        )
        const updated = yield* Effect.exit(
          Effect.suspend(() => http.update({ client_id: "existing", trusted_metadata: deepMetadata(depth) }))
        )
        expect(verdict(created)).toEqual([undefined, true])
        expect(verdict(updated)).toEqual([undefined, true])
        expect(yield* storeContents).toEqual(before)
      })
  )

  // A lone surrogate is a valid JS string but not valid Unicode: encodeURIComponent throws on it.
  it.scoped.each(["\ud83d", "a\udc00b", "\ud83d\ud83d"])(
    "the client id %j fails typed in every operation",
    (client_id) =>
      Effect.gen(function*() {
        const http = yield* httpClients
        const before = yield* storeContents
        const request = { client_id }
        const calls = [
          () => http.create({ client_id, scopes: [] }),
          () => http.get(request),
          () => http.update({ client_id, client_name: "renamed" }),
          () => http.delete(request),
          () => http.secrets.rotateStart(request),
          () => http.secrets.rotateCancel(request),
          () => http.secrets.rotate(request)
        ] as ReadonlyArray<() => Effect.Effect<unknown, unknown>>
        const verdicts = yield* Effect.forEach(calls, (call) => Effect.map(Effect.exit(Effect.suspend(call)), verdict))
        expect(verdicts).toEqual(calls.map(() => [undefined, true]))
        expect(yield* storeContents).toEqual(before)
      })
  )

  // JSON.parse makes "__proto__" an own key; a schema that copies with `out[key] = value` drops it.
  it.scoped("a __proto__ key in trusted_metadata is stored as sent or refused, never silently dropped", () =>
    Effect.gen(function*() {
      const http = yield* httpClients
      const trusted_metadata = JSON.parse("{\"__proto__\": {\"injected\": true}, \"team\": \"billing\"}")
      const created = yield* Effect.exit(http.create({ scopes: [], trusted_metadata }))
      expect(outcomeProblem(created)).toBeUndefined()
      if (Exit.isSuccess(created)) {
        const stored = yield* storedClient(created.value.m2m_client.client_id)
        expect(Object.keys(stored?.trusted_metadata ?? {}).sort()).toEqual(["__proto__", "team"])
        expect(JSON.stringify(created.value.m2m_client.trusted_metadata)).toBe(JSON.stringify(trusted_metadata))
      }
    }))
})

// ---------------------------------------------------------------------------------------------------
// Raw requests straight at the emulator
// ---------------------------------------------------------------------------------------------------

interface RawRequest {
  readonly method: string
  readonly path: string
  /** Sent as it is, with `contentType` (JSON by default). */
  readonly body?: string
  /** Sent in chunks with no declared length. */
  readonly streamed?: boolean
  readonly contentType?: string
  /** The `Authorization` header; the project's credentials by default, `null` for none. */
  readonly authorization?: string | null
}

interface RawAnswer {
  readonly status: number
  readonly text: string
  readonly body: unknown
}

const basic = (user: string, password: string) => `Basic ${Buffer.from(`${user}:${password}`).toString("base64")}`

const parseBody = (text: string): unknown => {
  try {
    return JSON.parse(text)
  } catch {
    return undefined
  }
}

const chunksOf = (bytes: Uint8Array, size: number): Array<Uint8Array> =>
  Array.from({ length: Math.ceil(bytes.length / size) }, (_, i) => bytes.subarray(i * size, (i + 1) * size))

/** Sends a request through `HttpClient`, which percent-encodes nothing itself but normalises `.` segments. */
const sendRaw = (raw: RawRequest): Effect.Effect<RawAnswer, unknown, Emulator | HttpClient.HttpClient> =>
  Effect.gen(function*() {
    const { baseUrl } = yield* Emulator
    const client = yield* HttpClient.HttpClient
    let request = HttpClientRequest.make(raw.method as "GET")(`${baseUrl}${raw.path}`)
    const authorization = raw.authorization === undefined ? basic(projectId, projectSecret) : raw.authorization
    if (authorization !== null) request = HttpClientRequest.setHeader(request, "authorization", authorization)
    if (raw.body !== undefined) {
      const contentType = raw.contentType ?? "application/json"
      const bytes = new TextEncoder().encode(raw.body)
      request = HttpClientRequest.setBody(
        request,
        raw.streamed
          ? HttpBody.stream(Stream.fromChunk(Chunk.unsafeFromArray(chunksOf(bytes, 64 * 1024))), contentType)
          : HttpBody.uint8Array(bytes, contentType)
      )
    }
    const response = yield* client.execute(request)
    const text = yield* response.text
    return { status: response.status, text, body: parseBody(text) }
  })

/** Decodes a chunked HTTP/1.1 body. */
const unchunk = (body: string): string => {
  let out = ""
  let rest = body
  for (;;) {
    const lineEnd = rest.indexOf("\r\n")
    const size = parseInt(rest.slice(0, lineEnd), 16)
    if (!(size > 0)) return out
    out += rest.slice(lineEnd + 2, lineEnd + 2 + size)
    rest = rest.slice(lineEnd + 2 + size + 2)
  }
}

/**
 * Sends a request line as given over a plain socket, for the paths an HTTP client would normalise (`%2e%2e`)
 * or refuse to send (a raw space, raw UTF-8).
 */
const sendOverSocket = (method: string, path: string): Effect.Effect<RawAnswer, Error, Emulator> =>
  Effect.flatMap(Emulator, ({ baseUrl }) =>
    Effect.async<RawAnswer, Error>((resume) => {
      const url = new URL(baseUrl)
      const socket = connect(Number(url.port), url.hostname)
      const received: Array<Buffer> = []
      socket.on("connect", () =>
        socket.write(
          `${method} ${path} HTTP/1.1\r\nHost: ${url.host}\r\nAuthorization: ${
            basic(projectId, projectSecret)
          }\r\nConnection: close\r\n\r\n`,
          "utf8"
        ))
      socket.on("data", (chunk: Buffer) => received.push(chunk))
      socket.on("error", (error) => resume(Effect.fail(error)))
      socket.on("close", () => {
        const text = Buffer.concat(received).toString("utf8")
        const headEnd = text.indexOf("\r\n\r\n")
        const head = text.slice(0, headEnd)
        const rawBody = text.slice(headEnd + 4)
        const body = /transfer-encoding:\s*chunked/i.test(head) ? unchunk(rawBody) : rawBody
        resume(Effect.succeed({ status: Number(head.split(" ")[1]), text: body, body: parseBody(body) }))
      })
      return Effect.sync(() => socket.destroy())
    }))

const clients = "/v1/m2m/clients"
const big = (bytes: number) => JSON.stringify({ scopes: [], client_name: "x".repeat(bytes) })
const deepBody = (depth: number) =>
  `{"scopes": [], "trusted_metadata": {"deep": ${"{\"k\": ".repeat(depth)}1${"}".repeat(depth)}}}`
const searchBody = (query: string) => `{"query": ${query}}`

/** What a raw request must be answered with: always a Stytch-shaped 4XX; the status and type where pinned. */
interface Expected {
  readonly status?: number
  readonly error_type?: string | ReadonlyArray<string>
}

const rawCases: ReadonlyArray<readonly [string, RawRequest, Expected]> = [
  ["malformed JSON", { method: "POST", path: clients, body: "{\"scopes\": [" }, {
    status: 400,
    error_type: "bad_request"
  }],
  ["a JSON array", { method: "POST", path: clients, body: "[]" }, { status: 400, error_type: "bad_request" }],
  ["JSON null", { method: "POST", path: clients, body: "null" }, { status: 400, error_type: "bad_request" }],
  ["a JSON string", { method: "POST", path: `${clients}/search`, body: "\"query\"" }, {
    status: 400,
    error_type: "bad_request"
  }],
  ["a number for scopes", { method: "POST", path: clients, body: "{\"scopes\": 5}" }, {
    status: 400,
    error_type: "invalid_m2m_client_scope"
  }],
  ["a number for client_id", { method: "POST", path: clients, body: "{\"scopes\": [], \"client_id\": 5}" }, {
    status: 400,
    error_type: "m2m_client_invalid_client_id"
  }],
  ["an array for trusted_metadata", {
    method: "POST",
    path: clients,
    body: "{\"scopes\": [], \"trusted_metadata\": []}"
  }, {
    status: 400,
    error_type: "metadata_invalid_format"
  }],
  ["metadata nested 5,000 levels deep", { method: "POST", path: clients, body: deepBody(5_000) }, {
    status: 400,
    error_type: ["metadata_invalid_format", "metadata_too_large"]
  }],
  ["a number for a custom secret", {
    method: "POST",
    path: clients,
    body: `{"scopes": [], "client_secret": 12345678901}`
  }, {
    status: 400,
    error_type: "m2m_client_invalid_client_secret"
  }],
  ["a status that is not one", { method: "PUT", path: `${clients}/existing`, body: "{\"status\": \"deleted\"}" }, {
    status: 400,
    error_type: "invalid_m2m_client_status"
  }],
  ["a string limit", { method: "POST", path: `${clients}/search`, body: "{\"limit\": \"10\"}" }, {
    status: 400,
    error_type: "bad_request"
  }],
  ["a limit of 0", { method: "POST", path: `${clients}/search`, body: "{\"limit\": 0}" }, {
    status: 400,
    error_type: "bad_request"
  }],
  ["an unknown operator", {
    method: "POST",
    path: `${clients}/search`,
    body: searchBody("{\"operator\": \"XOR\", \"operands\": []}")
  }, { status: 400, error_type: "bad_request" }],
  ["a filter name that is a number", {
    method: "POST",
    path: `${clients}/search`,
    body: searchBody("{\"operator\": \"AND\", \"operands\": [{\"filter_name\": 5, \"filter_value\": []}]}")
  }, { status: 400, error_type: "m2m_search_filter_name_must_be_string" }],
  [`more than ${maxSearchOperands} operands`, {
    method: "POST",
    path: `${clients}/search`,
    body: searchBody(JSON.stringify({
      operator: "OR",
      operands: Array.from({ length: maxSearchOperands + 1 }, () => ({ filter_name: "scopes", filter_value: ["a"] }))
    }))
  }, { status: 400, error_type: "bad_request" }],
  [`more than ${maxSearchFilterValues} values in an operand`, {
    method: "POST",
    path: `${clients}/search`,
    body: searchBody(JSON.stringify({
      operator: "OR",
      operands: [{
        filter_name: "client_id",
        filter_value: Array.from({ length: maxSearchFilterValues + 1 }, (_, i) => `c-${i}`)
      }]
    }))
  }, { status: 400, error_type: "bad_request" }],
  ["a cursor the server never gave", { method: "POST", path: `${clients}/search`, body: "{\"cursor\": \"bogus\"}" }, {
    status: 400,
    error_type: "invalid_search_cursor"
  }],
  ["JSON sent as text/plain", { method: "POST", path: clients, body: "{\"scopes\": []}", contentType: "text/plain" }, {
    status: 415,
    error_type: "unsupported_content_type"
  }],
  ["a body over 1 MiB", { method: "POST", path: clients, body: big(2 * 1024 * 1024) }, {
    status: 413,
    error_type: "request_too_large"
  }],
  ["a body over 1 MiB with no declared length", {
    method: "POST",
    path: clients,
    body: big(2 * 1024 * 1024),
    streamed: true
  }, { status: 413, error_type: "request_too_large" }],
  ["an unknown route", { method: "GET", path: "/v1/m2m/nothing" }, { status: 404, error_type: "route_not_found" }],
  ["the root", { method: "GET", path: "/" }, { status: 404, error_type: "route_not_found" }],
  ["a path one segment too deep", { method: "GET", path: `${clients}/a/b` }, {
    status: 404,
    error_type: "route_not_found"
  }],
  ["an empty client id", { method: "GET", path: `${clients}/` }, { status: 404, error_type: "route_not_found" }],
  ["a lone %", { method: "GET", path: `${clients}/%` }, { status: 400, error_type: "m2m_client_invalid_client_id" }],
  ["broken UTF-8", { method: "GET", path: `${clients}/%E0%A4%A` }, {
    status: 400,
    error_type: "m2m_client_invalid_client_id"
  }],
  ["an unknown id", { method: "GET", path: `${clients}/nobody` }, { status: 404, error_type: "m2m_client_not_found" }],
  // Past Node's 16 KiB limit on the request head: the answer must still be Stytch's shape.
  ["a 20,000-character id", { method: "GET", path: `${clients}/${"x".repeat(20_000)}` }, {}],
  ["PATCH", { method: "PATCH", path: `${clients}/existing`, body: "{}" }, {
    status: 405,
    error_type: "method_not_allowed"
  }],
  ["no credentials", { method: "GET", path: `${clients}/existing`, authorization: null }, {
    status: 401,
    error_type: "unauthorized_credentials"
  }],
  ["a wrong secret", {
    method: "GET",
    path: `${clients}/existing`,
    authorization: basic(projectId, "secret-test-WRONG-CANARY-77")
  }, { status: 401, error_type: "invalid_secret_authentication" }],
  ["credentials that are not base64", {
    method: "GET",
    path: `${clients}/existing`,
    authorization: `Basic ${projectSecret}!!`
  }, { status: 401, error_type: "unauthorized_credentials" }]
]

/** Request lines an HTTP client would not send as they are. */
const socketCases: ReadonlyArray<readonly [string, string, string, Expected]> = [
  ["an encoded ..", "GET", `${clients}/%2e%2e`, { status: 400, error_type: "m2m_client_invalid_client_id" }],
  ["an encoded .", "DELETE", `${clients}/%2E`, { status: 400, error_type: "m2m_client_invalid_client_id" }],
  ["a raw ..", "GET", `${clients}/../clients/search`, {}],
  ["raw UTF-8", "GET", `${clients}/ünï`, {}],
  ["a raw space", "GET", `${clients}/a b`, {}],
  // Node hands CONNECT to a server event of its own, which once went unheard: no answer at all.
  ["CONNECT", "CONNECT", `${clients}/existing`, { status: 405, error_type: "method_not_allowed" }]
]

const expectStytchShaped = (answer: RawAnswer, expected: Expected) => {
  const body = answer.body as { readonly error_type?: unknown } | undefined
  expect(answer.status).toBeGreaterThanOrEqual(400)
  expect(answer.status).toBeLessThan(500)
  if (expected.status !== undefined) expect(answer.status).toBe(expected.status)
  if (typeof expected.error_type === "string") expect(body?.error_type).toBe(expected.error_type)
  if (Array.isArray(expected.error_type)) expect(expected.error_type).toContain(body?.error_type)
  expect(body).toMatchObject({
    status_code: answer.status,
    request_id: expect.stringMatching(/^request-id-test-/),
    error_type: expect.any(String),
    error_message: expect.any(String),
    error_url: expect.any(String)
  })
  for (const secret of [projectSecret, "secret-test-WRONG-CANARY-77", "12345678901"]) {
    expect(answer.text).not.toContain(secret)
  }
}

layer(emulatorLayer, { excludeTestServices: true })("raw bad requests straight at the emulator", (it) => {
  it.effect.each(rawCases)(
    "%s: a Stytch-shaped 4XX, the store unchanged",
    ([, raw, expected]) =>
      Effect.gen(function*() {
        const before = yield* storeContents
        emulatorErrors.length = 0
        expectStytchShaped(yield* sendRaw(raw), expected)
        expect(yield* storeContents).toEqual(before)
        expect(emulatorErrors).toEqual([])
      })
  )

  it.effect.each(socketCases)(
    "%s in the path: a Stytch-shaped 4XX, the store unchanged",
    ([, method, path, expected]) =>
      Effect.gen(function*() {
        const before = yield* storeContents
        expectStytchShaped(yield* sendOverSocket(method, path), expected)
        expect(yield* storeContents).toEqual(before)
      })
  )
})
