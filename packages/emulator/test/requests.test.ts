/**
 * What the emulator does with requests that are not what an endpoint expects: wrong or missing
 * credentials, bodies that are not JSON objects or too large, unknown routes and methods, and client
 * ids that need percent-encoding. Each gets a Stytch-shaped 4XX, and none changes the store.
 */
import { HttpBody, HttpClient, HttpClientRequest } from "@effect/platform"
import { NodeHttpClient } from "@effect/platform-node"
import { describe, expect, it } from "@effect/vitest"
import type { M2MClients } from "@stytch-effect/core"
import { MemoryM2MClients } from "@stytch-effect/memory"
import { Chunk, Context, Effect, Layer, Redacted, Ref, Stream } from "effect"
import { execFile } from "node:child_process"
import * as Http from "node:http"
import * as Net from "node:net"
import * as Emulator from "../src/index.js"
import { unparsableRequestAnswer } from "../src/internal/answers.js"
import type { Answer, Method } from "./support.js"
import { basic, expectError, provideEmulator, requestIdPattern, seedClient, send, snapshot } from "./support.js"

describe("authentication", () => {
  it.live.each([
    { case: "no Authorization header", authorization: () => null, errorType: "unauthorized_credentials" },
    { case: "a Bearer token", authorization: () => "Bearer abc", errorType: "unauthorized_credentials" },
    {
      case: "Basic with no colon",
      authorization: () => `Basic ${btoa("just-a-user")}`,
      errorType: "unauthorized_credentials"
    },
    { case: "Basic that is not base64", authorization: () => "Basic !!!", errorType: "unauthorized_credentials" },
    {
      case: "another project's id",
      authorization: (e: Emulator.Emulator.Service) => basic("project-test-other", Redacted.value(e.secret)),
      errorType: "invalid_project_id_authentication"
    },
    {
      case: "a wrong secret of the same length",
      authorization: (e: Emulator.Emulator.Service) => basic(e.projectId, Redacted.value(e.secret).replace(/.$/, "!")),
      errorType: "invalid_secret_authentication"
    },
    {
      case: "a wrong secret of another length",
      authorization: (e: Emulator.Emulator.Service) => basic(e.projectId, "short"),
      errorType: "invalid_secret_authentication"
    },
    {
      case: "the secret as the user and the id as the password",
      authorization: (e: Emulator.Emulator.Service) => basic(Redacted.value(e.secret), e.projectId),
      errorType: "invalid_project_id_authentication"
    }
  ])("answers $case with 401 $errorType and touches nothing", ({ authorization, errorType }) =>
    Effect.gen(function*() {
      const emulator = yield* Emulator.Emulator
      const answer = yield* send("POST", "/v1/m2m/clients", {
        json: { client_id: "intruder", scopes: [] },
        authorization: authorization(emulator)
      })
      expectError(answer, 401, errorType)
      expect(answer.headers["www-authenticate"]).toBe("Basic realm=\"stytch\"")
      expect(answer.text).not.toContain(Redacted.value(emulator.secret))
      expect(yield* snapshot).toEqual([])
    }).pipe(provideEmulator()))

  it.live("checks credentials before routing, so an unknown route answers 401 too", () =>
    Effect.gen(function*() {
      expectError(yield* send("GET", "/nowhere", { authorization: null }), 401, "unauthorized_credentials")
    }).pipe(provideEmulator()))

  it.live("accepts the project id and secret it was given", () =>
    Effect.gen(function*() {
      const answer = yield* send("GET", "/v1/m2m/clients/nobody", {
        authorization: basic("project-test-mine", "sh-hush")
      })
      expectError(answer, 404, "m2m_client_not_found")
    }).pipe(provideEmulator({ projectId: "project-test-mine", secret: Redacted.make("sh-hush") })))
})

describe("request bodies", () => {
  it.live.each([
    {
      case: "malformed JSON",
      raw: "{\"scopes\": [\"a\"], \"client_secret\": \"hunter2-hunter2\"",
      status: 400,
      errorType: "bad_request"
    },
    { case: "a JSON list", raw: "[]", status: 400, errorType: "bad_request" },
    { case: "a JSON string", raw: "\"scopes\"", status: 400, errorType: "bad_request" },
    { case: "JSON null", raw: "null", status: 400, errorType: "bad_request" },
    {
      // Formatting a message about the value would overflow the stack: it is refused before that.
      case: "a name nested 3000 lists deep",
      raw: `{"scopes":[],"client_name":${"[".repeat(3000)}${"]".repeat(3000)}}`,
      status: 400,
      errorType: "m2m_client_invalid_client_name"
    },
    {
      case: "a filter value nested 3000 lists deep",
      raw: `{"query":{"operator":"AND","operands":[{"filter_name":"scopes","filter_value":${"[".repeat(3000)}${
        "]".repeat(3000)
      }}]}}`,
      path: "/v1/m2m/clients/search",
      status: 400,
      errorType: "bad_request"
    },
    {
      case: "a form body",
      raw: "scopes=a",
      contentType: "application/x-www-form-urlencoded",
      status: 415,
      errorType: "unsupported_content_type"
    },
    {
      case: "JSON labelled as text",
      raw: "{\"scopes\":[]}",
      contentType: "text/plain",
      status: 415,
      errorType: "unsupported_content_type"
    }
  ])(
    "answers $case with $status $errorType, creating nothing",
    ({ contentType, errorType, path, raw, status }) =>
      Effect.gen(function*() {
        const answer = yield* send("POST", path ?? "/v1/m2m/clients", { raw, ...(contentType ? { contentType } : {}) })
        expectError(answer, status, errorType)
        // The JSON parser's own message would quote the body, secret and all.
        expect(answer.text).not.toContain("hunter2")
        expect(yield* snapshot).toEqual([])
      }).pipe(provideEmulator())
  )

  it.live("serves good requests among bad ones sent at the same time, and stores only the good", () =>
    Effect.gen(function*() {
      const ids = Array.from({ length: 20 }, (_, i) => `client-${i}`)
      const answers = yield* Effect.all(
        ids.flatMap((client_id) => [
          send("POST", "/v1/m2m/clients", { json: { client_id, scopes: ["a"] } }),
          send("POST", "/v1/m2m/clients", { raw: `{"client_id":"${client_id}-bad","scopes":` }),
          send("POST", "/v1/m2m/clients", { json: { client_id: `${client_id}-bad`, scopes: [" "] } })
        ]),
        { concurrency: "unbounded" }
      )
      expect(answers.map((answer) => answer.status)).toEqual(ids.flatMap(() => [200, 400, 400]))
      expect((yield* snapshot).map((client) => client.client_id).sort()).toEqual([...ids].sort())
    }).pipe(provideEmulator()))

  it.live("accepts JSON with a charset", () =>
    Effect.gen(function*() {
      const answer = yield* send("POST", "/v1/m2m/clients", {
        raw: "{\"scopes\":[\"a\"]}",
        contentType: "application/json; charset=utf-8"
      })
      expect(answer.status).toBe(200)
    }).pipe(provideEmulator()))

  it.live("ignores fields an operation does not know", () =>
    Effect.gen(function*() {
      const answer = yield* send("POST", "/v1/m2m/clients", { json: { scopes: ["a"], colour: "red" } })
      expect(answer.status).toBe(200)
      expect(answer.body.m2m_client).not.toHaveProperty("colour")
    }).pipe(provideEmulator()))

  it.live("answers a body over the limit with 413 request_too_large, by its declared length", () =>
    Effect.gen(function*() {
      const answer = yield* send("POST", "/v1/m2m/clients", {
        json: { scopes: ["a"], client_description: "x".repeat(1024 * 1024) }
      })
      expectError(answer, 413, "request_too_large")
      expect(yield* snapshot).toEqual([])
    }).pipe(provideEmulator()))

  it.live("answers a streamed body over the limit with 413, and keeps serving", () =>
    Effect.gen(function*() {
      const emulator = yield* Emulator.Emulator
      const client = yield* HttpClient.HttpClient
      // A stream has no declared length: the limit is found while reading.
      const chunks = Stream.fromChunk(Chunk.make(new TextEncoder().encode(`{"scopes":["a"],"client_name":"`)))
        .pipe(Stream.concat(Stream.make(new Uint8Array(600).fill(120), new Uint8Array(600).fill(120))))
      const request = HttpClientRequest.post(`${emulator.baseUrl}/v1/m2m/clients`).pipe(
        HttpClientRequest.basicAuth(emulator.projectId, Redacted.value(emulator.secret)),
        HttpClientRequest.setBody(HttpBody.stream(chunks, "application/json"))
      )
      const answer = yield* Effect.scoped(Effect.flatMap(client.execute(request), (r) => r.json))
      expect(answer).toMatchObject({ status_code: 413, error_type: "request_too_large" })
      expect(yield* snapshot).toEqual([])
      expect((yield* send("POST", "/v1/m2m/clients", { json: { scopes: ["a"] } })).status).toBe(200)
    }).pipe(provideEmulator({ maxBodySize: 1024 })))

  // Answering while the client still sends, then closing, reset the connection under the client before
  // it read the answer: EPIPE instead of a 413 in about one try of ten. The client runs in a process of
  // its own, as in the report: sharing this event loop, it never gets far enough ahead to be reset.
  it.live(
    "answers 413 to each of 20 bodies of 10 and 50 MiB from another process, and keeps serving",
    () =>
      Effect.gen(function*() {
        const emulator = yield* Emulator.Emulator
        const sizes = Array.from({ length: 20 }, (_, i) => (i % 4 < 2 ? 10 : 50) * 1024 * 1024)
        const outcomes = yield* postFromChildProcess(emulator, sizes)
        expect(outcomes).toEqual(sizes.map(() => 413))
        expect((yield* send("POST", "/v1/m2m/clients", { json: { scopes: ["a"] } })).status).toBe(200)
        expect(yield* snapshot).toHaveLength(1)
      }).pipe(provideEmulator()),
    60_000
  )

  it.live("refuses a body that is not valid UTF-8 with 400 bad_request, storing nothing", () =>
    Effect.gen(function*() {
      const emulator = yield* Emulator.Emulator
      for (
        const bytes of [
          [0xff],
          [0xc3, 0x28],
          [0xe2, 0x82],
          [0xed, 0xa0, 0x80] // a surrogate's UTF-8 form, which no valid UTF-8 holds
        ]
      ) {
        const body = Buffer.concat([
          Buffer.from("{\"scopes\":[],\"client_name\":\""),
          Buffer.from(bytes),
          Buffer.from("\"}")
        ])
        const answer = yield* postBytes(emulator, body)
        expect(answer.status).toBe(400)
        expect(JSON.parse(answer.text)).toMatchObject({ error_type: "bad_request", status_code: 400 })
      }
      expect(yield* snapshot).toEqual([])
    }).pipe(provideEmulator()))

  it.live("ignores a body sent with GET", () =>
    Effect.gen(function*() {
      yield* seedClient("reader")
      expect((yield* send("GET", "/v1/m2m/clients/reader", { raw: "not json" })).status).toBe(200)
    }).pipe(provideEmulator()))
})

/** POSTs raw bytes to create over `node:http`, and reads the whole answer. */
const postBytes = (
  emulator: Emulator.Emulator.Service,
  body: Buffer
): Effect.Effect<{ readonly status: number; readonly text: string }, Error> =>
  Effect.async((resume) => {
    const request = Http.request(new URL("/v1/m2m/clients", emulator.baseUrl), {
      method: "POST",
      headers: {
        authorization: basic(emulator.projectId, Redacted.value(emulator.secret)),
        "content-type": "application/json"
      }
    }, (response) => {
      const chunks: Array<Buffer> = []
      response.on("data", (chunk: Buffer) => chunks.push(chunk))
      response.on("end", () =>
        resume(Effect.succeed({ status: response.statusCode!, text: Buffer.concat(chunks).toString("utf8") })))
    })
    request.on("error", (error) =>
      resume(Effect.fail(error)))
    request.end(body)
    return Effect.sync(() => request.destroy())
  })

/**
 * A plain `node:http` client in a child process: POSTs a body of each size to create (with a declared
 * length; every other one in a single write, the rest in 1 MiB writes) on a connection of its own, and
 * prints each answer's status, or the socket error's code where the connection broke first.
 */
const childClient = `
const http = require("node:http")
const [url, authorization, ...sizes] = process.argv.slice(1)
const post = (size, singleWrite) => new Promise((resolve) => {
  const body = Buffer.alloc(size, 0x78)
  const headers = { authorization, "content-type": "application/json", "content-length": String(size) }
  const request = http.request(url, { method: "POST", agent: false, headers }, (response) => {
    response.resume()
    response.on("end", () => resolve(response.statusCode))
  })
  request.on("error", (error) => resolve(error.code))
  if (singleWrite) return request.end(body)
  for (let offset = 0; offset < size; offset += 1 << 20) request.write(body.subarray(offset, offset + (1 << 20)))
  request.end()
})
;(async () => {
  const outcomes = []
  for (const [i, size] of sizes.entries()) outcomes.push(await post(Number(size), i % 2 === 0))
  console.log(JSON.stringify(outcomes))
})()
`

const postFromChildProcess = (emulator: Emulator.Emulator.Service, sizes: ReadonlyArray<number>) =>
  Effect.async<ReadonlyArray<number | string>, Error>((resume) => {
    const child = execFile(process.execPath, [
      "-e",
      childClient,
      `${emulator.baseUrl}/v1/m2m/clients`,
      basic(emulator.projectId, Redacted.value(emulator.secret)),
      ...sizes.map(String)
    ], (error, stdout) => resume(error ? Effect.fail(error) : Effect.succeed(JSON.parse(stdout))))
    return Effect.sync(() => child.kill())
  })

/** Sends a CONNECT over a plain socket (no HTTP client sends one to a server) and reads the answer. */
const connectOverSocket = (emulator: Emulator.Emulator.Service, target: string, authorization: string | undefined) =>
  Effect.async<Answer, Error>((resume) => {
    const url = new URL(emulator.baseUrl)
    const socket = Net.connect(Number(url.port), url.hostname)
    const received: Array<Buffer> = []
    socket.on("connect", () =>
      socket.write(
        `CONNECT ${target} HTTP/1.1\r\nHost: ${url.host}\r\n${
          authorization === undefined ? "" : `Authorization: ${authorization}\r\n`
        }\r\n`
      ))
    socket.on("data", (chunk: Buffer) => received.push(chunk))
    socket.on("error", (error) => resume(Effect.fail(error)))
    socket.on("close", () => {
      const [head = "", text = ""] = Buffer.concat(received).toString("utf8").split("\r\n\r\n")
      const [statusLine = "", ...lines] = head.split("\r\n")
      const headers = Object.fromEntries(lines.map((line) => {
        const colon = line.indexOf(":")
        return [line.slice(0, colon).toLowerCase(), line.slice(colon + 1).trim()]
      }))
      let body: unknown = undefined
      try {
        body = JSON.parse(text)
      } catch {
        // Left undefined: expectError then fails on it.
      }
      resume(Effect.succeed({ status: Number(statusLine.split(" ")[1]), headers, text, body }))
    })
    return Effect.sync(() => socket.destroy())
  })

describe("requests Node's parser refuses", () => {
  it.each(
    [
      ["HPE_HEADER_OVERFLOW", 431, "request_header_fields_too_large"],
      ["ERR_HTTP_REQUEST_TIMEOUT", 408, "request_timeout"],
      ["HPE_INVALID_METHOD", 400, "bad_request"]
    ] as const
  )("%s is answered %i %s, in Stytch's shape", (code, status, errorType) => {
    const [head, body] = unparsableRequestAnswer(code, "request-id-test-1").split("\r\n\r\n")
    expect(head).toMatch(new RegExp(`^HTTP/1.1 ${status} `))
    expect(head).toContain("connection: close")
    expect(JSON.parse(body!)).toMatchObject({
      status_code: status,
      error_type: errorType,
      request_id: "request-id-test-1"
    })
  })
})

describe("routes", () => {
  it.live.each([
    "/",
    "/v1",
    "/v1/m2m/clients/",
    "/v1/m2m/client",
    "/v1/m2m/clients/a/secrets",
    "/v1/m2m/clients/a/secrets/rotate/finish",
    "/v1/m2m/clients/a/b",
    "/v1/m2m/clients/search/extra"
  ])("answers %s with 404 route_not_found", (path) =>
    Effect.gen(function*() {
      expectError(yield* send("POST", path, { json: {} }), 404, "route_not_found")
    }).pipe(provideEmulator()))

  it.live.each(
    [
      { method: "GET", path: "/v1/m2m/clients", allow: "POST" },
      { method: "DELETE", path: "/v1/m2m/clients", allow: "POST" },
      { method: "POST", path: "/v1/m2m/clients/a", allow: "GET, PUT, DELETE" },
      { method: "PATCH", path: "/v1/m2m/clients/a", allow: "GET, PUT, DELETE" },
      { method: "GET", path: "/v1/m2m/clients/a/secrets/rotate", allow: "POST" },
      { method: "PUT", path: "/v1/m2m/clients/a/secrets/rotate/start", allow: "POST" },
      { method: "OPTIONS", path: "/v1/m2m/clients/search", allow: "GET, POST, PUT, DELETE" }
    ] as const
  )(
    "answers $method $path with 405 method_not_allowed, allowing $allow",
    ({ allow, method, path }) =>
      Effect.gen(function*() {
        const answer = yield* send(method as Method, path, method === "GET" ? {} : { json: {} })
        expectError(answer, 405, "method_not_allowed")
        expect(answer.headers["allow"]).toBe(allow)
      }).pipe(provideEmulator())
  )

  // Node hands CONNECT to the server's `connect` event, not to the app; unheard, it went unanswered.
  it.live.each([
    {
      target: "/v1/m2m/clients/a",
      credentials: true,
      status: 405,
      errorType: "method_not_allowed",
      allow: "GET, PUT, DELETE"
    },
    { target: "/v1/m2m/clients", credentials: true, status: 405, errorType: "method_not_allowed", allow: "POST" },
    { target: "api.stytch.com:443", credentials: true, status: 404, errorType: "route_not_found" },
    { target: "/v1/m2m/clients/a", credentials: false, status: 401, errorType: "unauthorized_credentials" }
  ])(
    "answers CONNECT $target with $status $errorType, in Stytch's shape",
    ({ allow, credentials, errorType, status, target }) =>
      Effect.gen(function*() {
        const emulator = yield* Emulator.Emulator
        const authorization = credentials ? basic(emulator.projectId, Redacted.value(emulator.secret)) : undefined
        const answer = yield* connectOverSocket(emulator, target, authorization)
        expectError(answer, status, errorType)
        expect(answer.headers["allow"]).toBe(allow)
        expect(answer.text).not.toContain(Redacted.value(emulator.secret))
      }).pipe(provideEmulator())
  )

  it.live("gives every answer, success or error, a request id of its own", () =>
    Effect.gen(function*() {
      const answers = yield* Effect.all([
        send("POST", "/v1/m2m/clients", { json: { scopes: [] } }),
        send("GET", "/v1/m2m/clients/nobody"),
        send("GET", "/nowhere"),
        send("GET", "/v1/m2m/clients", { authorization: null }),
        send("POST", "/v1/m2m/clients", { raw: "{" })
      ])
      const ids = answers.map((answer) => answer.body.request_id)
      ids.forEach((id) => expect(id).toMatch(requestIdPattern))
      expect(new Set(ids).size).toBe(ids.length)
    }).pipe(provideEmulator()))
})

/** The client ids the store was asked to get, in order. */
class LookedUp extends Context.Tag("test/LookedUp")<LookedUp, Ref.Ref<ReadonlyArray<string>>>() {}

/** An emulator over a memory store whose `get` records the id it is handed. */
const provideSpiedEmulator = Effect.provide(
  Layer.effectContext(
    Effect.gen(function*() {
      const store = yield* MemoryM2MClients.make()
      const seen = yield* LookedUp
      const clients: M2MClients.Service = {
        ...store.clients,
        get: (request) =>
          Effect.zipRight(Ref.update(seen, (ids) => [...ids, request.client_id]), store.clients.get(request))
      }
      return MemoryM2MClients.toContext({ ...store, clients })
    })
  ).pipe(
    (clients) => Layer.provideMerge(Emulator.layer(), clients),
    Layer.provideMerge(Layer.effect(LookedUp, Ref.make<ReadonlyArray<string>>([]))),
    Layer.merge(NodeHttpClient.layer)
  )
)

describe("client ids in paths", () => {
  it.live.each([
    "../search",
    "a/b",
    "../../v1/m2m/clients",
    "%",
    "%41",
    "100%sure",
    "a%2Fb",
    "?x=1",
    "#fragment",
    "a;b",
    "a+b",
    "secrets",
    "(it's)*~!"
  ])("reaches the client %j, percent-encoded as one segment, by every route", (client_id) =>
    Effect.gen(function*() {
      yield* seedClient("search")
      yield* seedClient(client_id)
      const path = `/v1/m2m/clients/${encodeURIComponent(client_id)}`
      const got = yield* send("GET", path)
      expect(got.status).toBe(200)
      expect(got.body.m2m_client.client_id).toBe(client_id)
      const updated = yield* send("PUT", path, { json: { client_name: "renamed" } })
      expect(updated.body.m2m_client).toMatchObject({ client_id, client_name: "renamed" })
      const started = yield* send("POST", `${path}/secrets/rotate/start`, { json: {} })
      expect(started.body.m2m_client.client_id).toBe(client_id)
      const deleted = yield* send("DELETE", path)
      expect(deleted.body).toMatchObject({ client_id })
      // The other client, the one a decoded `../search` or `search` might have reached, is untouched.
      if (client_id !== "search") {
        expect((yield* send("GET", "/v1/m2m/clients/search")).body.m2m_client.client_name).toBe("")
      }
    }).pipe(provideEmulator()))

  it.live("reads a raw `;` as part of the id, as the path's segment holds it", () =>
    Effect.gen(function*() {
      yield* seedClient("a")
      yield* seedClient("a;b")
      expect((yield* send("GET", "/v1/m2m/clients/a;b")).body.m2m_client.client_id).toBe("a;b")
      const started = yield* send("POST", "/v1/m2m/clients/a;b/secrets/rotate/start", { json: {} })
      expect(started.body.m2m_client.client_id).toBe("a;b")
      expect((yield* send("GET", "/v1/m2m/clients/a")).body.m2m_client.next_client_secret_last_four).toBeNull()
    }).pipe(provideEmulator()))

  it.live.each([" ", "with spaces", "clïent-名前-🚀", "tab\there"])(
    "hands the store %j decoded exactly once, even an id the store refuses to hold",
    (client_id) =>
      Effect.gen(function*() {
        const answer = yield* send("GET", `/v1/m2m/clients/${encodeURIComponent(client_id)}`)
        expectError(answer, 404, "m2m_client_not_found")
        expect(yield* Ref.get(yield* LookedUp)).toEqual([client_id])
      }).pipe(provideSpiedEmulator)
  )

  it.live.each(["%ZZ", "%E0%A4%A", "abc%", "%C3%28"])(
    "answers the malformed escape %s with 400 m2m_client_invalid_client_id",
    (segment) =>
      Effect.gen(function*() {
        yield* seedClient("abc")
        const before = yield* snapshot
        expectError(yield* send("GET", `/v1/m2m/clients/${segment}`), 400, "m2m_client_invalid_client_id")
        expectError(yield* send("DELETE", `/v1/m2m/clients/${segment}`), 400, "m2m_client_invalid_client_id")
        const rotate = yield* send("POST", `/v1/m2m/clients/${segment}/secrets/rotate/start`, { json: {} })
        expectError(rotate, 400, "m2m_client_invalid_client_id")
        expect(yield* snapshot).toEqual(before)
      }).pipe(provideEmulator())
  )
})
