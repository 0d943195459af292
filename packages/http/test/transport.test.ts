/**
 * Real clients against a closed loopback port: the platform's errors must be recognised as "never
 * sent", which is what lets an unsafe operation be retried after them.
 */
import { FetchHttpClient } from "@effect/platform"
import { NodeHttpClient } from "@effect/platform-node"
import { describe, expect, it } from "@effect/vitest"
import { M2MClients } from "@stytch-effect/core"
import { Effect, Layer, Redacted } from "effect"
import { createServer } from "node:net"
import { HttpM2MClients } from "../src/index.js"

/** A loopback port that nothing listens on: bound, read, then closed. */
const closedPort = Effect.async<number>((resume) => {
  const server = createServer().listen(0, "127.0.0.1", () => {
    const address = server.address()
    server.close(() => resume(Effect.succeed(typeof address === "object" && address ? address.port : 1)))
  })
})

/** A loopback server that reads each request, counts it, then hangs up without answering. */
const hangingUp = Effect.acquireRelease(
  Effect.async<{ readonly port: number; readonly requests: () => number; readonly close: () => void }>((resume) => {
    let requests = 0
    const server = createServer((socket) => {
      socket.once("data", () => {
        requests++
        socket.destroy()
      })
    }).listen(0, "127.0.0.1", () => {
      const address = server.address()
      resume(Effect.succeed({
        port: typeof address === "object" && address ? address.port : 1,
        requests: () => requests,
        close: () => server.close()
      }))
    })
  }),
  (server) => Effect.sync(server.close)
)

const clients = [
  ["fetch", FetchHttpClient.layer],
  ["undici", NodeHttpClient.layerUndici]
] as const

describe("a dropped connection", () => {
  it.live.each(clients)(
    "through %s is a TransportError, and a create whose id the server chooses is not retried",
    ([, client]) =>
      Effect.gen(function*() {
        const server = yield* hangingUp
        const layer = HttpM2MClients.layer({
          projectId: "project-test-1",
          secret: Redacted.make("secret-test-1"),
          baseUrl: `http://127.0.0.1:${server.port}`,
          retry: { times: 2, baseDelay: "1 millis" },
          generateClientIds: false
        }).pipe(Layer.provide(client))
        const error = yield* Effect.flip(Effect.flatMap(M2MClients, (c) => c.create({ scopes: [] }))).pipe(
          Effect.provide(layer)
        )
        expect(error._tag).toBe("TransportError")
        expect(error.message).not.toContain("secret-test-1")
        expect(server.requests()).toBe(1)
        const gets = yield* Effect.flip(Effect.flatMap(M2MClients, (c) => c.get({ client_id: "a" }))).pipe(
          Effect.provide(layer)
        )
        expect(gets._tag).toBe("TransportError")
        expect(server.requests()).toBe(4)
      }).pipe(Effect.scoped)
  )
})

describe("a refused connection", () => {
  it.live.each(clients)(
    "through %s is a TransportError, and an unsafe create is retried",
    ([, client]) =>
      Effect.gen(function*() {
        const port = yield* closedPort
        const layer = HttpM2MClients.layer({
          projectId: "project-test-1",
          secret: Redacted.make("secret-test-1"),
          baseUrl: `http://127.0.0.1:${port}`,
          retry: { times: 2, baseDelay: "1 millis" }
        }).pipe(Layer.provide(client))
        const error = yield* Effect.flip(Effect.flatMap(M2MClients, (c) => c.create({ scopes: [] }))).pipe(
          Effect.provide(layer)
        )
        expect(error._tag).toBe("TransportError")
        expect(error.message).toMatch(
          /^M2MClients\.create: connection failure: the connection failed \(.*ECONNREFUSED.*\) after 3 attempts$/
        )
      })
  )
})
