/**
 * A retried create never turns one request into two clients, and never reports success without a
 * secret the caller can use. The fake server here keeps its clients, so a fault can strike after the
 * create was committed, when only the answer is lost.
 */
import { describe, expect, it } from "@effect/vitest"
import type { M2MClients } from "@stytch-effect/core"
import { Effect, Redacted } from "effect"
import type { HttpM2MClients } from "../src/index.js"
import type { Reply, Sent } from "./fakeStytch.js"
import { json, ok, recordSpans, runOnTestClock, stytchError, wireClient, withFake } from "./fakeStytch.js"

type Fault = "none" | "lose the answer" | "503 before acting" | "503 after acting" | "refuse"

/** A server keeping its clients, meeting `faults[n - 1]` on the n-th request. */
const statefulServer = (faults: ReadonlyArray<Fault>, existing: ReadonlyArray<Record<string, unknown>> = []) => {
  const clients = new Map<string, Record<string, unknown>>(existing.map((client) => [String(client.client_id), client]))
  let generated = 0
  const reply = (request: Sent, n: number): Reply => {
    const fault = faults[n - 1] ?? "none"
    if (fault === "refuse") return "refuse"
    if (fault === "503 before acting") return stytchError(503, "server_unavailable")
    const answer = act(request)
    if (fault === "lose the answer") return "drop"
    if (fault === "503 after acting") return stytchError(503, "server_unavailable")
    return answer
  }
  const act = (request: Sent): Reply => {
    if (request.method === "GET") {
      const id = decodeURIComponent(request.url.pathname.split("/").pop()!)
      const client = clients.get(id)
      return client
        ? ok({ m2m_client: { ...client, client_secret: undefined } })
        : stytchError(404, "m2m_client_not_found")
    }
    const body = request.body as { client_id?: string; client_secret?: string; scopes: Array<string> }
    const id = body.client_id ?? `m2m-client-test-${++generated}`
    if (clients.has(id)) return stytchError(400, "duplicate_m2m_client_id")
    const secret = body.client_secret ?? `generated-secret-${generated}`
    const client = wireClient({ client_id: id, scopes: body.scopes, client_secret_last_four: secret.slice(-4) })
    clients.set(id, client)
    return json(200, {
      request_id: "request-id-test-create",
      status_code: 200,
      m2m_client: { ...client, client_secret: secret }
    })
  }
  return { clients, reply }
}

const create = (
  server: ReturnType<typeof statefulServer>,
  request: Parameters<M2MClients.Service["create"]>[0],
  options: Partial<HttpM2MClients.Options> = {}
) =>
  withFake(server.reply, (clients, fake) =>
    runOnTestClock(Effect.either(clients.create(request))).pipe(
      Effect.map((result) => ({
        result,
        sent: fake.sent.map((sent) => `${sent.method} ${sent.url.pathname}`),
        bodies: fake.sent.map((sent) => sent.body as { readonly client_id?: string } | undefined)
      }))
    ), options)

const generatedId = /^m2m-client-test-[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/

describe("create without a client_id", () => {
  it.effect("is sent with an id chosen by the layer, in the shape of Stytch's own, new for each create", () =>
    Effect.gen(function*() {
      const server = statefulServer([])
      const first = yield* create(server, { scopes: ["a"] })
      const second = yield* create(server, { scopes: ["a"] })
      const ids = [...first.bodies, ...second.bodies].map((body) => body?.client_id)
      expect(ids[0]).toMatch(generatedId)
      expect(ids[1]).toMatch(generatedId)
      expect(ids[0]).not.toBe(ids[1])
      expect(first.result._tag === "Right" && first.result.right.m2m_client.client_id).toBe(ids[0])
    }))

  it.effect("is repeated with the same id after a 5XX, and an unknown outcome names the client", () =>
    Effect.gen(function*() {
      const server = statefulServer(Array<Fault>(4).fill("503 before acting"))
      const { bodies, result } = yield* create(server, { scopes: ["a"] })
      expect(bodies).toHaveLength(4)
      const [id] = bodies.map((body) => body?.client_id)
      expect(new Set(bodies.map((body) => body?.client_id))).toEqual(new Set([id]))
      const error = result._tag === "Left" ? result.left : undefined
      expect(error?._tag === "ServerError" && error.client_id).toBe(id)
      expect(error?.message).toContain(`client ${id} may exist or may still appear`)
      expect(server.clients.size).toBe(0)
    }))

  it.effect("whose answer was lost is repeated, and fails with ClientSecretLost naming the one client made", () =>
    Effect.gen(function*() {
      const server = statefulServer(["lose the answer"])
      const { bodies, result } = yield* create(server, { scopes: ["a"] })
      expect(server.clients.size).toBe(1)
      const error = result._tag === "Left" ? result.left : undefined
      expect(error?._tag === "ClientSecretLost" && error.client_id).toBe(bodies[0]?.client_id)
      expect([...server.clients.keys()]).toEqual([bodies[0]?.client_id])
    }))

  it.effect("but with a secret of its own, a lost answer ends in success: the generated id is only its own", () =>
    Effect.gen(function*() {
      const server = statefulServer(["lose the answer"])
      const { result, sent } = yield* create(server, {
        scopes: ["a"],
        client_secret: Redacted.make("my-own-secret-42")
      })
      expect(sent).toStrictEqual(["POST /v1/m2m/clients", "POST /v1/m2m/clients", expect.stringMatching(/^GET /)])
      expect(result._tag === "Right" && Redacted.value(result.right.m2m_client.client_secret)).toBe(
        "my-own-secret-42"
      )
      expect(server.clients.size).toBe(1)
    }))
})

describe("create without a client_id, with generateClientIds: false", () => {
  const serverChooses = { generateClientIds: false }

  it.effect("is sent without one", () =>
    Effect.gen(function*() {
      const { bodies } = yield* create(statefulServer([]), { scopes: ["a"] }, serverChooses)
      expect(bodies).toStrictEqual([{ scopes: ["a"] }])
    }))

  it.effect("is not repeated once the server may have acted: the answer was lost", () =>
    Effect.gen(function*() {
      const server = statefulServer(["lose the answer"])
      const { result } = yield* create(server, { scopes: ["a"] }, serverChooses)
      expect(result._tag === "Left" && result.left._tag).toBe("TransportError")
      expect(result._tag === "Left" && result.left._tag === "TransportError" && result.left.client_id)
        .toBeUndefined()
      expect(server.clients.size).toBe(1)
    }))

  it.effect("is not repeated after a 5XX, which may come after the work was done", () =>
    Effect.gen(function*() {
      const server = statefulServer(["503 after acting"])
      const { result, sent } = yield* create(server, { scopes: ["a"] }, serverChooses)
      expect(result._tag === "Left" && result.left._tag).toBe("ServerError")
      expect(sent).toHaveLength(1)
      expect(server.clients.size).toBe(1)
    }))

  it.effect("is repeated when the connection was refused, so nothing reached the server", () =>
    Effect.gen(function*() {
      const server = statefulServer(["refuse", "refuse"])
      const { result, sent } = yield* create(server, { scopes: ["a"] }, serverChooses)
      expect(result._tag).toBe("Right")
      expect(sent).toHaveLength(3)
      expect(server.clients.size).toBe(1)
    }))
})

describe("create with a client_id", () => {
  it.effect("is repeated after a 5XX that did nothing, and returns the secret", () =>
    Effect.gen(function*() {
      const server = statefulServer(["503 before acting"])
      const { result } = yield* create(server, { scopes: ["a"], client_id: "billing" })
      expect(result._tag === "Right" && Redacted.value(result.right.m2m_client.client_secret)).toBe(
        "generated-secret-0"
      )
      expect(server.clients.size).toBe(1)
    }))

  it.effect("and its own secret: a lost answer is confirmed by proving the secret", () =>
    Effect.gen(function*() {
      const server = statefulServer(["lose the answer"])
      const proofs: Array<string> = []
      const proveSecret = (client_id: string, secret: Redacted.Redacted<string>) =>
        Effect.sync(() => {
          proofs.push(client_id)
          return Redacted.value(secret) === "my-own-secret-42"
        })
      const { spans, exit } = yield* recordSpans(
        create(
          server,
          { scopes: ["a"], client_id: "billing", client_secret: Redacted.make("my-own-secret-42") },
          { proveSecret }
        )
      )
      const { result, sent } = yield* exit
      expect(sent).toStrictEqual([
        "POST /v1/m2m/clients",
        "POST /v1/m2m/clients",
        "GET /v1/m2m/clients/billing"
      ])
      expect(server.clients.size).toBe(1)
      expect(result._tag).toBe("Right")
      const created = result._tag === "Right" ? result.right : undefined
      expect(created?.m2m_client.client_id).toBe("billing")
      expect(created && Redacted.value(created.m2m_client.client_secret)).toBe("my-own-secret-42")
      const span = spans.find((span) => span.name === "M2MClients.create")!
      expect(span.attributes.get("m2m.create.confirmed_after_lost_answer")).toBe(true)
      expect(span.attributes.get("m2m.attempts")).toBe(2)
      expect(proofs).toStrictEqual(["billing"])
      // The read-back is the create's own call, under its span.
      const readBack = spans.find((span) => span.name === "M2MClients.get")!
      expect(readBack.parent._tag === "Some" && readBack.parent.value).toBe(span)
    }))

  it.effect("and its own secret: a lost answer with no way to prove the secret is a DuplicateClientId", () =>
    Effect.gen(function*() {
      const server = statefulServer(["lose the answer"])
      const { result } = yield* create(server, {
        scopes: ["a"],
        client_id: "billing",
        client_secret: Redacted.make("my-own-secret-42")
      })
      expect(result._tag === "Left" && result.left._tag).toBe("DuplicateClientId")
      expect(server.clients.size).toBe(1)
    }))

  it.effect.each([
    { case: "no proof is given", options: {} },
    { case: "the proof says no", options: { proveSecret: () => Effect.succeed(false) } },
    { case: "the proof fails", options: { proveSecret: () => Effect.fail("no token endpoint") } }
  ])(
    "and its own secret: another client's id, its secret ending alike, is a DuplicateClientId when $case",
    ({ options }) =>
      Effect.gen(function*() {
        // The first attempt met a 503 before acting; the id was already another client's, whose secret
        // ends in the same four characters as the caller's.
        const server = statefulServer(["503 before acting"], [
          wireClient({ client_id: "billing", client_secret_last_four: "t-42" })
        ])
        const { result } = yield* create(server, {
          scopes: ["a"],
          client_id: "billing",
          client_secret: Redacted.make("my-own-secret-42")
        }, options)
        expect(result._tag === "Left" && result.left._tag).toBe("DuplicateClientId")
      })
  )

  it.effect("and its own secret: someone else's client under that id is still a DuplicateClientId", () =>
    Effect.gen(function*() {
      const server = statefulServer(["503 before acting"], [
        wireClient({ client_id: "billing", client_secret_last_four: "zzzz" })
      ])
      const { result } = yield* create(server, {
        scopes: ["a"],
        client_id: "billing",
        client_secret: Redacted.make("my-own-secret-42")
      })
      expect(result._tag === "Left" && result.left._tag).toBe("DuplicateClientId")
      expect(result._tag === "Left" && result.left.message).toBe(
        "duplicate_m2m_client_id: duplicate_m2m_client_id happened (HTTP 400, request " +
          "request-id-test-duplicate_m2m_client_id after 2 attempts)"
      )
    }))

  it.effect("and its own secret: a read-back that fails ends unknown, naming the client to repeat the create with", () =>
    Effect.gen(function*() {
      const server = statefulServer(["lose the answer", "none", ...Array<Fault>(4).fill("503 before acting")])
      const { result, sent } = yield* create(server, {
        scopes: ["a"],
        client_id: "billing",
        client_secret: Redacted.make("my-own-secret-42")
      })
      expect(sent).toStrictEqual([
        "POST /v1/m2m/clients",
        "POST /v1/m2m/clients",
        ...Array<string>(4).fill("GET /v1/m2m/clients/billing")
      ])
      expect(result._tag === "Left" && result.left._tag).toBe("ServerError")
      expect(result._tag === "Left" && result.left._tag === "ServerError" && result.left.client_id).toBe("billing")
      expect(result._tag === "Left" && result.left.message).toContain("repeat the create with this client_id")
    }))

  it.effect("but no secret: a lost answer fails, saying the client exists and its secret is lost", () =>
    Effect.gen(function*() {
      const server = statefulServer(["lose the answer"])
      const { result, sent } = yield* create(server, { scopes: ["a"], client_id: "billing" })
      expect(sent).toStrictEqual(["POST /v1/m2m/clients", "POST /v1/m2m/clients"])
      expect(server.clients.size).toBe(1)
      expect(result._tag).toBe("Left")
      const error = result._tag === "Left" ? result.left : undefined
      expect(error?._tag).toBe("ClientSecretLost")
      expect(error?._tag === "ClientSecretLost" && error.client_id).toBe("billing")
      expect(error?.message).toContain("its secret was never received; rotate its secret or delete it")
      expect(error?.message).toContain("after 2 attempts")
    }))

  it.effect("a DuplicateClientId on the first attempt is only that", () =>
    Effect.gen(function*() {
      const server = statefulServer([], [wireClient({ client_id: "billing" })])
      const { result, sent } = yield* create(server, { scopes: ["a"], client_id: "billing" })
      expect(sent).toHaveLength(1)
      expect(result._tag === "Left" && result.left._tag === "DuplicateClientId" && result.left.error_details)
        .toBeUndefined()
    }))
})
