/**
 * `UndiciHttpClient` against a real `node:http` server on loopback that counts its sockets: what a
 * request carries and what comes back, the bound on bodies, redirects left alone, transport failures
 * with Node's error codes kept, and sockets freed by interruption and by closing the layer.
 */
import { HttpClient, HttpClientRequest } from "@effect/platform"
import { describe, expect, it } from "@effect/vitest"
import { Deferred, Effect, Exit, Fiber, Layer, Scope, Stream } from "effect"
import { spawn } from "node:child_process"
import type { IncomingMessage, ServerResponse } from "node:http"
import { createServer } from "node:http"
import { createServer as createNetServer } from "node:net"
import { setFlagsFromString } from "node:v8"
import { runInNewContext } from "node:vm"
import { UndiciHttpClient } from "../src/index.js"

interface Received {
  readonly method: string
  readonly url: string
  readonly headers: IncomingMessage["headers"]
  readonly body: string
}

interface Loopback {
  readonly url: (path: string) => string
  readonly received: Array<Received>
  /** Sockets open now, and the most that were ever open at once. */
  readonly sockets: () => { readonly open: number; readonly peak: number }
}

type Handler = (request: IncomingMessage, response: ServerResponse, body: string) => void

/** A loopback server that reads each request whole, records it, then hands it to `handler`. */
const loopback = (handler: Handler) =>
  Effect.acquireRelease(
    Effect.async<Loopback & { readonly close: () => void }>((resume) => {
      const received: Array<Received> = []
      let open = 0
      let peak = 0
      const server = createServer((request, response) => {
        const chunks: Array<Buffer> = []
        request.on("data", (chunk: Buffer) => chunks.push(chunk))
        request.on("end", () => {
          const body = Buffer.concat(chunks).toString("utf8")
          received.push({ method: request.method!, url: request.url!, headers: request.headers, body })
          handler(request, response, body)
        })
      })
      server.on("connection", (socket) => {
        peak = Math.max(peak, ++open)
        socket.on("close", () => open--)
      })
      server.listen(0, "127.0.0.1", () => {
        const address = server.address()
        const port = typeof address === "object" && address !== null ? address.port : 0
        resume(Effect.succeed({
          url: (path) => `http://127.0.0.1:${port}${path}`,
          received,
          sockets: () => ({ open, peak }),
          close: () => {
            server.closeAllConnections()
            server.close()
          }
        }))
      })
    }),
    (server) => Effect.sync(server.close)
  )

const json = (response: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}) => {
  const text = JSON.stringify(body)
  response.writeHead(status, {
    "content-type": "application/json",
    "content-length": Buffer.byteLength(text),
    ...headers
  })
  response.end(text)
}

/** Echoes what it received as JSON, with status 201 and a header of its own. */
const echo: Handler = (request, response, body) =>
  json(response, 201, { method: request.method, url: request.url, body: body === "" ? null : JSON.parse(body) }, {
    "x-request-id": "request-1"
  })

/** Polls `condition` on the live clock until it holds, for up to two seconds. */
const eventually = (condition: () => boolean, what: string) =>
  Effect.gen(function*() {
    for (let i = 0; i < 400; i++) {
      if (condition()) return
      yield* Effect.sleep("5 millis")
    }
    return yield* Effect.dieMessage(`never happened: ${what}`)
  })

/** The `code`s along an error's cause chain, as the http layer reads them. */
const codes = (cause: unknown): Array<string> => {
  if (typeof cause !== "object" || cause === null) return []
  const { code, cause: inner, errors } = cause as { code?: unknown; cause?: unknown; errors?: unknown }
  return [
    ...(typeof code === "string" ? [code] : []),
    ...(Array.isArray(errors) ? errors.flatMap(codes) : []),
    ...codes(inner)
  ]
}

/**
 * The client's two paths: with the tracer on, requests go through `HttpClient.make`; with it off, as our
 * http layer has it, they skip it.
 */
const clients = (tracer: "on" | "off") => {
  const traced = (client: HttpClient.HttpClient) =>
    tracer === "on" ? client : HttpClient.withTracerDisabledWhen(client, () => true)

  /** A client from a layer built in a scope of its own, so a test can close it. */
  const clientIn = (options: UndiciHttpClient.Options = {}) =>
    Effect.gen(function*() {
      const scope = yield* Scope.make()
      const context = yield* Layer.buildWithScope(UndiciHttpClient.layerWith(options), scope)
      return { client: traced(context.unsafeMap.get(HttpClient.HttpClient.key) as HttpClient.HttpClient), scope }
    })

  const withClient = <A, E, R>(
    f: (client: HttpClient.HttpClient) => Effect.Effect<A, E, R>,
    options: UndiciHttpClient.Options = {}
  ) =>
    Effect.flatMap(HttpClient.HttpClient, (client) => f(traced(client))).pipe(
      Effect.provide(UndiciHttpClient.layerWith(options))
    )

  return { clientIn, withClient }
}

describe.each(["on", "off"] as const)("with the tracer %s", (tracer) => {
  const { clientIn, withClient } = clients(tracer)

  describe("requests and answers", () => {
    it.scopedLive.each(["POST", "PUT", "DELETE"] as const)(
      "a %s carries its JSON body, and the answer's status, headers and body come back",
      (method) =>
        Effect.gen(function*() {
          const server = yield* loopback(echo)
          const response = yield* withClient((client) =>
            client.execute(
              HttpClientRequest.make(method)(server.url("/v1/m2m/clients?x=1")).pipe(
                HttpClientRequest.bodyUnsafeJson({ scopes: ["read:users"], name: "é" })
              )
            ).pipe(Effect.flatMap((response) => Effect.map(response.json, (body) => ({ response, body }))))
          )
          expect(response.response.status).toBe(201)
          expect(response.response.headers["x-request-id"]).toBe("request-1")
          expect(response.body).toEqual({
            method,
            url: "/v1/m2m/clients?x=1",
            body: { scopes: ["read:users"], name: "é" }
          })
          expect(server.received[0]!.headers["content-type"]).toBe("application/json")
        })
    )

    it.scopedLive("a GET carries no body, and its headers arrive as set", () =>
      Effect.gen(function*() {
        const server = yield* loopback(echo)
        const body = yield* withClient((client) =>
          client.execute(
            HttpClientRequest.get(server.url("/v1/m2m/clients/a")).pipe(
              HttpClientRequest.setHeader("authorization", "Basic abc")
            )
          ).pipe(Effect.flatMap((response) => response.json))
        )
        expect(body).toEqual({ method: "GET", url: "/v1/m2m/clients/a", body: null })
        expect(server.received[0]!.headers["authorization"]).toBe("Basic abc")
        expect(server.received[0]!.headers["content-length"]).toBeUndefined()
      }))

    it.scopedLive("a body is read once: text, json and arrayBuffer after it give the same bytes", () =>
      Effect.gen(function*() {
        const server = yield* loopback(echo)
        const [text, body, bytes] = yield* withClient((client) =>
          Effect.flatMap(
            client.get(server.url("/once")),
            (response) => Effect.all([response.text, response.json, response.arrayBuffer])
          )
        )
        expect(JSON.parse(text)).toEqual(body)
        expect(new TextDecoder().decode(bytes)).toBe(text)
        expect(server.received).toHaveLength(1)
      }))

    it.scopedLive("an empty body is the empty text, and null as JSON", () =>
      Effect.gen(function*() {
        const server = yield* loopback((_, response) => response.writeHead(204).end())
        const [text, body] = yield* withClient((client) =>
          Effect.flatMap(client.get(server.url("/empty")), (response) => Effect.all([response.text, response.json]))
        )
        expect(text).toBe("")
        expect(body).toBeNull()
      }))

    it.scopedLive("a body that is not JSON is a ResponseError when read as JSON", () =>
      Effect.gen(function*() {
        const server = yield* loopback((_, response) => response.writeHead(502).end("<html>Bad gateway</html>"))
        const error = yield* withClient((client) =>
          Effect.flip(Effect.flatMap(client.get(server.url("/html")), (response) => response.json))
        )
        expect(error).toMatchObject({ _tag: "ResponseError", reason: "Decode" })
      }))

    it.scopedLive("a response's JSON form leaves the body and the Authorization header out", () =>
      Effect.gen(function*() {
        const server = yield* loopback((_, response) => json(response, 200, { client_secret: "the-secret-itself" }))
        const shown = yield* withClient((client) =>
          client.execute(
            HttpClientRequest.get(server.url("/secret")).pipe(HttpClientRequest.setHeader("authorization", "Basic abc"))
          ).pipe(Effect.tap((response) => response.text), Effect.map((response) => JSON.stringify(response)))
        )
        expect(shown).toContain("200")
        expect(shown).not.toContain("the-secret-itself")
        expect(shown).not.toContain("Basic abc")
      }))
  })

  describe("the bound on bodies", () => {
    const bound = 1024
    const cases = [
      ["declared by content-length", (response: ServerResponse) => {
        response.writeHead(200, { "content-type": "application/json", "content-length": 64 * bound })
        response.write("[")
      }],
      ["streamed without a length", (response: ServerResponse) => {
        response.writeHead(200, { "content-type": "application/json" })
        // Far more than the bound, in chunks, and never ended: only a reader that stops can fail.
        const chunk = "x".repeat(256)
        for (let i = 0; i < 64; i++) response.write(chunk)
      }]
    ] as const

    it.scopedLive.each(cases)(
      "a body over the bound, %s, is a ResponseError, and its socket is closed",
      ([, answer]) =>
        Effect.gen(function*() {
          const server = yield* loopback((_, response) => answer(response))
          const error = yield* withClient(
            (client) => Effect.flip(Effect.flatMap(client.get(server.url("/large")), (response) => response.text)),
            { maxBodyBytes: bound }
          )
          expect(error).toMatchObject({ _tag: "ResponseError", reason: "Decode" })
          expect(error.message).toContain(`larger than ${bound} bytes`)
          yield* eventually(() => server.sockets().open === 0, "the socket closed")
        })
    )

    it.scopedLive("a body at the bound is read whole", () =>
      Effect.gen(function*() {
        const server = yield* loopback((_, response) => response.writeHead(200).end("y".repeat(bound)))
        const text = yield* withClient(
          (client) => Effect.flatMap(client.get(server.url("/exact")), (response) => response.text),
          { maxBodyBytes: bound }
        )
        expect(text).toHaveLength(bound)
      }))
  })

  describe("redirects", () => {
    it.scopedLive.each([301, 302, 303, 307, 308])(
      "a %d is returned as the response, not followed",
      (status) =>
        Effect.gen(function*() {
          const server = yield* loopback((request, response) =>
            request.url === "/elsewhere"
              ? json(response, 200, { followed: true })
              : response.writeHead(status, { location: "/elsewhere" }).end()
          )
          const response = yield* withClient((client) =>
            client.execute(
              HttpClientRequest.post(server.url("/v1/m2m/clients")).pipe(HttpClientRequest.bodyUnsafeJson({}))
            )
          )
          expect(response.status).toBe(status)
          expect(response.headers["location"]).toBe("/elsewhere")
          expect(server.received.map((request) => request.url)).toEqual(["/v1/m2m/clients"])
        })
    )
  })

  describe("transport failures", () => {
    it.scopedLive("a connection dropped before the answer is a RequestError(Transport) whose cause keeps undici's code", () =>
      Effect.gen(function*() {
        const server = yield* loopback((request) => request.socket.destroy())
        const error = yield* withClient((client) => Effect.flip(client.get(server.url("/drop"))))
        expect(error).toMatchObject({ _tag: "RequestError", reason: "Transport" })
        expect(codes(error.cause)).toContain("UND_ERR_SOCKET")
      }))

    it.scopedLive("a connection dropped while the body is read is a ResponseError whose cause keeps undici's code", () =>
      Effect.gen(function*() {
        const server = yield* loopback((request, response) => {
          response.writeHead(200, { "content-length": 100 })
          response.write("{\"partial\":", () => request.socket.destroy())
        })
        const error = yield* withClient((client) =>
          Effect.flip(Effect.flatMap(client.get(server.url("/half")), (response) => response.text))
        )
        expect(error).toMatchObject({ _tag: "ResponseError", reason: "Decode" })
        expect(codes(error.cause)).toContain("UND_ERR_SOCKET")
      }))

    it.scopedLive("a refused connection is a RequestError(Transport) whose cause keeps ECONNREFUSED", () =>
      Effect.gen(function*() {
        const port = yield* Effect.async<number>((resume) => {
          const server = createNetServer().listen(0, "127.0.0.1", () => {
            const address = server.address()
            server.close(() => resume(Effect.succeed(typeof address === "object" && address ? address.port : 1)))
          })
        })
        const error = yield* withClient((client) => Effect.flip(client.get(`http://127.0.0.1:${port}/`)))
        expect(error).toMatchObject({ _tag: "RequestError", reason: "Transport" })
        expect(codes(error.cause)).toContain("ECONNREFUSED")
      }))

    it.effect("a body the client cannot send is a RequestError(Encode), and nothing is sent", () =>
      Effect.gen(function*() {
        const error = yield* withClient((client) =>
          Effect.flip(
            client.execute(
              HttpClientRequest.post("http://127.0.0.1:9/").pipe(
                HttpClientRequest.setBody({ _tag: "Raw", body: { not: "bytes" } } as never)
              )
            )
          )
        )
        expect(error).toMatchObject({ _tag: "RequestError", reason: "Encode" })
      }))
  })

  describe("interruption and the pool", () => {
    /** A server that answers nothing: the headers of `/headers-only` but never a body, of anything else not even those. */
    const silent: Handler = (request, response) => {
      if (request.url === "/headers-only") {
        response.writeHead(200, { "content-length": 100 })
        response.write("{")
      }
    }

    it.live.each(["/no-answer", "/headers-only"])(
      "interrupting a request waiting on %s aborts it: the server sees its socket close",
      (path) =>
        Effect.gen(function*() {
          let requestSocketClosed = false
          const server = yield* loopback((request, response, body) => {
            request.socket.on("close", () => requestSocketClosed = true)
            silent(request, response, body)
          })
          yield* withClient((client) =>
            Effect.gen(function*() {
              const fiber = yield* Effect.fork(
                Effect.flatMap(client.get(server.url(path)), (response) => response.text)
              )
              yield* eventually(
                () => server.received.length === 1 && server.sockets().open === 1,
                "the request arrived"
              )
              // The pool stays open: only the aborted request's socket may close (undici may open a fresh
              // idle one in its place).
              yield* Fiber.interrupt(fiber)
              yield* eventually(() => requestSocketClosed, "the socket closed")
            })
          )
        }).pipe(Effect.scoped)
    )

    it.live("closing the layer destroys the pool: no idle keep-alive socket stays open", () =>
      Effect.gen(function*() {
        const server = yield* loopback(echo)
        const { client, scope } = yield* clientIn({ keepAlive: "1 minute" })
        yield* Effect.forEach(
          Array.from({ length: 8 }, (_, i) => i),
          (i) => Effect.flatMap(client.get(server.url(`/${i}`)), (response) => response.json),
          { concurrency: 8 }
        )
        expect(server.sockets().open).toBeGreaterThan(0)
        yield* Scope.close(scope, Exit.void)
        yield* eventually(() => server.sockets().open === 0, "every socket closed")
      }).pipe(Effect.scoped))

    it.live("many interrupted and timed-out requests leave no pile of connections, and none once the layer closes", () =>
      Effect.gen(function*() {
        const inFlight = 32
        // `/hold/` requests are never answered: each one is abandoned by its caller, by an interrupt once
        // the server has it, or by a timeout wherever it is. The others are answered at once.
        const arrived = new Map<string, Deferred.Deferred<void>>()
        const server = yield* loopback((request, response) => {
          const deferred = arrived.get(request.url!)
          if (deferred !== undefined) Deferred.unsafeDone(deferred, Exit.void)
          else if (!request.url!.startsWith("/hold/")) json(response, 200, { ok: true })
        })
        const { client, scope } = yield* clientIn({ keepAlive: "1 minute" })
        const abandoned = (path: string) =>
          Effect.gen(function*() {
            const deferred = yield* Deferred.make<void>()
            arrived.set(path, deferred)
            const fiber = yield* Effect.fork(Effect.flatMap(client.get(server.url(path)), (response) => response.json))
            yield* Deferred.await(deferred)
            yield* Fiber.interrupt(fiber)
          })
        yield* Effect.forEach(
          Array.from({ length: 600 }, (_, i) => i),
          (i) =>
            i % 3 === 0
              ? abandoned(`/hold/${i}`)
              : i % 3 === 1
              ? Effect.exit(Effect.timeout(client.get(server.url(`/hold/${i}`)), "5 millis"))
              : Effect.flatMap(client.get(server.url(`/answered/${i}`)), (response) => response.json),
          { concurrency: inFlight }
        )
        // Every abandoned request's socket is closed; a request in flight holds at most one (and a socket
        // just aborted may not have reached the server's close yet).
        expect(server.sockets().peak).toBeLessThanOrEqual(2 * inFlight)
        yield* eventually(() => server.sockets().open <= inFlight, "the abandoned sockets closed")
        yield* Scope.close(scope, Exit.void)
        yield* eventually(() => server.sockets().open === 0, "every socket closed")
      }).pipe(Effect.scoped))

    /**
     * A server that accepts nothing: in a child process that blocks its event loop once listening, with
     * a backlog of one, so that the kernel leaves further connects pending (it drops their SYNs).
     */
    const deaf = Effect.acquireRelease(
      Effect.async<{ readonly url: string; readonly kill: () => void }>((resume) => {
        const child = spawn(process.execPath, [
          "-e",
          `const server = require("node:net").createServer().listen({ port: 0, host: "127.0.0.1", backlog: 1 }, () => {
          process.stdout.write(server.address().port + "\\n")
          setTimeout(() => Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 20000), 20)
        })`
        ], { stdio: ["ignore", "pipe", "inherit"] })
        child.stdout.once("data", (port: Buffer) =>
          // Past the child's 20 ms, its loop is blocked.
          setTimeout(
            () =>
              resume(Effect.succeed({ url: `http://127.0.0.1:${Number(String(port))}/`, kill: () => child.kill() })),
            100
          ))
      }),
      (server) => Effect.sync(server.kill)
    )

    const pendingConnects = () => process.getActiveResourcesInfo().filter((name) => name === "ConnectWrap").length

    it.live("attempts abandoned while connecting to a server that accepts nothing keep at most `connections` connects pending, and none once the layer closes", () =>
      Effect.gen(function*() {
        const server = yield* deaf
        const connections = 8
        const { client, scope } = yield* clientIn({ connections })
        let peak = 0
        yield* Effect.forEach(
          Array.from({ length: 120 }, (_, i) => i),
          () =>
            Effect.exit(Effect.timeout(client.get(server.url), "10 millis")).pipe(
              Effect.tap(() => peak = Math.max(peak, pendingConnects()))
            ),
          { concurrency: 16 }
        )
        expect(pendingConnects()).toBeGreaterThan(0)
        expect(peak).toBeLessThanOrEqual(connections)
        yield* Scope.close(scope, Exit.void)
        // At once: not when the kernel's next SYN retry or undici's connect timeout would end them.
        yield* Effect.sleep("20 millis")
        expect(pendingConnects()).toBe(0)
      }).pipe(Effect.scoped))
  })

  describe("bodies nobody reads yet", () => {
    it.scopedLive("a body nobody reads leaves its socket to the next request", () =>
      Effect.gen(function*() {
        const server = yield* loopback(echo)
        const statuses = yield* withClient((client) =>
          Effect.forEach([1, 2, 3], (i) =>
            client.get(server.url(`/unread/${i}`)).pipe(
              // Time for the rest of the answer to arrive: the response comes with its headers.
              Effect.tap(() => Effect.sleep("20 millis")),
              Effect.map((response) => response.status)
            ))
        )
        expect(statuses).toEqual([201, 201, 201])
        expect(server.sockets().peak).toBe(1)
      }))

    it.live("a response dropped with its body unread, once collected, frees its socket", () =>
      Effect.gen(function*() {
        let requestSocketClosed = false
        const server = yield* loopback((request, response) => {
          request.socket.on("close", () => requestSocketClosed = true)
          // More than is kept for a reader, and never ended: the socket waits for one.
          response.writeHead(200)
          response.write("w".repeat(256 * 1024))
        })
        setFlagsFromString("--expose-gc")
        const gc = runInNewContext("gc") as () => void
        yield* withClient((client) =>
          Effect.gen(function*() {
            const status = yield* Effect.map(client.get(server.url("/dropped")), (response) => response.status)
            expect(status).toBe(200)
            yield* eventually(() => {
              gc()
              return requestSocketClosed
            }, "the socket closed")
          })
        )
      }).pipe(Effect.scoped))

    it.scopedLive("a body far larger than what is kept unread arrives whole when it is read late", () =>
      Effect.gen(function*() {
        const size = 1024 * 1024
        const server = yield* loopback((_, response) => response.writeHead(200).end("z".repeat(size)))
        const text = yield* withClient((client) =>
          Effect.flatMap(
            client.get(server.url("/late")),
            (response) => Effect.zipRight(Effect.sleep("50 millis"), response.text)
          )
        )
        expect(text).toHaveLength(size)
      }))

    it.scopedLive("a body read as a stream arrives whole, past the bound", () =>
      Effect.gen(function*() {
        const chunk = "s".repeat(16 * 1024)
        const server = yield* loopback((_, response) => {
          response.writeHead(200)
          for (let i = 0; i < 20; i++) response.write(chunk)
          response.end()
        })
        const length = yield* withClient(
          (client) =>
            Effect.flatMap(
              client.get(server.url("/stream")),
              (response) => Stream.runFold(response.stream, 0, (total, bytes) => total + bytes.length)
            ),
          { maxBodyBytes: 1024 }
        )
        expect(length).toBe(20 * chunk.length)
      }))

    it.live("a stream its reader stops early frees the socket", () =>
      Effect.gen(function*() {
        let requestSocketClosed = false
        const server = yield* loopback((request, response) => {
          request.socket.on("close", () => requestSocketClosed = true)
          response.writeHead(200)
          response.write("first")
        })
        const first = yield* withClient((client) =>
          Effect.flatMap(client.get(server.url("/endless")), (response) => Stream.runHead(response.stream))
        )
        expect(first._tag).toBe("Some")
        yield* eventually(() => requestSocketClosed, "the socket closed")
      }).pipe(Effect.scoped))

    it.live("a request under withScope whose scope closes before the answer fails as a RequestError, and its socket closes", () =>
      Effect.gen(function*() {
        let requestSocketClosed = false
        const server = yield* loopback((request) => {
          request.socket.on("close", () => requestSocketClosed = true)
        })
        const { client, scope } = yield* clientIn()
        const requestScope = yield* Scope.make()
        const fiber = yield* Effect.fork(
          Scope.extend(HttpClient.withScope(client).get(server.url("/never")), requestScope)
        )
        yield* eventually(() => server.received.length === 1, "the request arrived")
        yield* Scope.close(requestScope, Exit.void)
        const exit = yield* Fiber.await(fiber)
        expect(exit).toMatchObject({ _tag: "Failure", cause: { _tag: "Fail", error: { _tag: "RequestError" } } })
        yield* eventually(() => requestSocketClosed, "the socket closed")
        yield* Scope.close(scope, Exit.void)
      }).pipe(Effect.scoped))

    it.live("a request under withScope is aborted when its scope closes", () =>
      Effect.gen(function*() {
        let requestSocketClosed = false
        const server = yield* loopback((request, response) => {
          request.socket.on("close", () => requestSocketClosed = true)
          response.writeHead(200, { "content-length": 100 })
          response.write("{")
        })
        const { client, scope } = yield* clientIn()
        const status = yield* Effect.scoped(
          Effect.map(HttpClient.withScope(client).get(server.url("/scoped")), (response) => response.status)
        )
        expect(status).toBe(200)
        yield* eventually(() => requestSocketClosed, "the socket closed")
        yield* Scope.close(scope, Exit.void)
      }).pipe(Effect.scoped))
  })
})
