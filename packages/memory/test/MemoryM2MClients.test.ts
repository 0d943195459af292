// What the memory layer does beyond the shared contract (packages/contract): the shape of what it
// generates, what it keeps of a secret, ClientCredentials, concurrency, seeding and options.
import { describe, expect, it } from "@effect/vitest"
import { M2MClients } from "@stytch-effect/core"
import { Effect, Either, Exit, Option, Redacted } from "effect"
import { createHash } from "node:crypto"
import { ClientCredentials } from "../src/index.js"
import type { SeedClient } from "../src/MemoryM2MClients.js"
import { layer, make } from "../src/MemoryM2MClients.js"

const sha256Hex = (secret: string) => createHash("sha256").update(secret, "utf8").digest("hex")

/** The store's state as JSON, with hashes as hex, to look for what it holds. */
const serialise = (value: unknown) =>
  JSON.stringify(value, (_, v) => v instanceof Uint8Array ? Buffer.from(v).toString("hex") : v)

const uuid = "[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}"

describe("generated ids and secrets", () => {
  it.effect.each([
    { projectId: undefined, environment: "test" },
    { projectId: "project-test-6c20cd16-73d5-44f7-852c-9a7e7b2ccf62", environment: "test" },
    { projectId: "project-live-6c20cd16-73d5-44f7-852c-9a7e7b2ccf62", environment: "live" }
  ])(
    "a $environment project ($projectId) makes $environment ids",
    ({ environment, projectId }) =>
      Effect.gen(function*() {
        const clients = yield* M2MClients
        const response = yield* clients.create({ scopes: [] })
        expect(response.m2m_client.client_id).toMatch(new RegExp(`^m2m-client-${environment}-${uuid}$`))
        expect(response.request_id).toMatch(new RegExp(`^request-id-${environment}-${uuid}$`))
        const error = yield* Effect.flip(clients.get({ client_id: "nobody" }))
        expect(error).toMatchObject({
          request_id: expect.stringMatching(new RegExp(`^request-id-${environment}-`)),
          error_url: "https://stytch.com/docs/api/errors/404#m2m_client_not_found"
        })
      }).pipe(Effect.provide(layer(projectId === undefined ? {} : { projectId })))
  )

  it.effect("a generated secret is 48 base64url characters, 288 random bits", () =>
    Effect.gen(function*() {
      const clients = yield* M2MClients
      const secrets = yield* Effect.forEach(
        Array.from({ length: 50 }),
        () => Effect.map(clients.create({ scopes: [] }), (r) => Redacted.value(r.m2m_client.client_secret))
      )
      for (const secret of secrets) expect(secret).toMatch(/^[A-Za-z0-9_-]{48}$/)
      expect(new Set(secrets).size).toBe(50)
      // Every base64url character shows up across 2400 random ones; a weak source would leave gaps.
      expect(new Set(secrets.join("")).size).toBe(64)
    }).pipe(Effect.provide(layer())))
})

describe("what the store keeps of a secret", () => {
  it.effect("only a SHA-256 hash and the last four characters, for the current and the next secret", () =>
    Effect.gen(function*() {
      const store = yield* make()
      const custom = "Imported-Secret-Value-9137"
      const created = yield* store.clients.create({
        client_id: "imported",
        scopes: [],
        client_secret: Redacted.make(custom)
      })
      const generated = yield* store.clients.create({ client_id: "generated", scopes: [] })
      const next = yield* store.clients.secrets.rotateStart({ client_id: "imported" })
      const plain = [
        custom,
        Redacted.value(generated.m2m_client.client_secret),
        Redacted.value(next.m2m_client.next_client_secret)
      ]
      const stored = yield* store.stored
      const json = serialise(stored)
      for (const secret of plain) expect(json).not.toContain(secret)
      const [imported, other] = stored
      expect(Buffer.from(imported!.secret.hash).toString("hex")).toBe(sha256Hex(custom))
      expect(Buffer.from(imported!.next_secret!.hash).toString("hex")).toBe(sha256Hex(plain[2]!))
      expect(Buffer.from(other!.secret.hash).toString("hex")).toBe(sha256Hex(plain[1]!))
      expect(imported!.secret.last_four).toBe(created.m2m_client.client_secret_last_four)
    }))
})

describe("ClientCredentials.verify", () => {
  const current = Redacted.make("Current-Secret-4821-abc")
  const next = Redacted.make("Next-Secret-7730-xyz")
  const other = Redacted.make("Someone-Elses-Secret-55")
  const seed: ReadonlyArray<SeedClient> = [
    { client_id: "steady", client_secret: current },
    { client_id: "rotating", client_secret: current, next_client_secret: next },
    { client_id: "disabled", client_secret: current, status: "inactive" }
  ]

  it.effect.each([
    { client_id: "steady", secret: current, valid: true },
    { client_id: "steady", secret: other, valid: false },
    { client_id: "steady", secret: Redacted.make("Current-Secret-4821-ab"), valid: false },
    { client_id: "steady", secret: Redacted.make("Current-Secret-4821-abcd"), valid: false },
    { client_id: "rotating", secret: current, valid: true },
    { client_id: "rotating", secret: next, valid: true },
    { client_id: "rotating", secret: other, valid: false },
    { client_id: "disabled", secret: current, valid: false },
    { client_id: "nobody", secret: current, valid: false }
  ])("$client_id with the secret $secret: $valid", ({ client_id, secret, valid }) =>
    Effect.gen(function*() {
      const credentials = yield* ClientCredentials
      expect(yield* credentials.verify(client_id, secret)).toBe(valid)
      const client = yield* credentials.authenticate(client_id, secret)
      expect(Option.map(client, (c) => c.client_id)).toEqual(valid ? Option.some(client_id) : Option.none())
    }).pipe(Effect.provide(layer({ seed }))))

  it.effect("follows a rotation from start to end, and deactivation and deletion", () =>
    Effect.gen(function*() {
      const clients = yield* M2MClients
      const credentials = yield* ClientCredentials
      const created = yield* clients.create({ client_id: "c", scopes: [] })
      const first = created.m2m_client.client_secret
      const valid = (secret: Redacted.Redacted<string>) => credentials.verify("c", secret)

      const second = (yield* clients.secrets.rotateStart({ client_id: "c" })).m2m_client.next_client_secret
      expect([yield* valid(first), yield* valid(second)]).toEqual([true, true])

      yield* clients.secrets.rotateCancel({ client_id: "c" })
      expect([yield* valid(first), yield* valid(second)]).toEqual([true, false])

      const third = (yield* clients.secrets.rotateStart({ client_id: "c" })).m2m_client.next_client_secret
      yield* clients.secrets.rotate({ client_id: "c" })
      expect([yield* valid(first), yield* valid(third)]).toEqual([false, true])

      yield* clients.update({ client_id: "c", status: "inactive" })
      expect(yield* valid(third)).toBe(false)
      yield* clients.update({ client_id: "c", status: "active" })
      expect(yield* valid(third)).toBe(true)

      yield* clients.delete({ client_id: "c" })
      expect(yield* valid(third)).toBe(false)
    }).pipe(Effect.provide(layer())))
})

describe("concurrency", () => {
  it.effect("1000 concurrent creates with distinct ids make 1000 clients", () =>
    Effect.gen(function*() {
      const store = yield* make()
      yield* Effect.forEach(
        Array.from({ length: 1000 }, (_, i) => i),
        (i) => store.clients.create({ client_id: `client-${i}`, scopes: [] }),
        { concurrency: "unbounded" }
      )
      const stored = yield* store.stored
      expect(stored.length).toBe(1000)
      expect(new Set(stored.map((s) => s.client.client_id)).size).toBe(1000)
      expect(new Set(stored.map((s) => s.sequence)).size).toBe(1000)
      expect((yield* store.clients.search({ limit: 1 })).results_metadata.total).toBe(1000)
    }))

  it.effect("of 100 concurrent creates with one id, exactly one succeeds", () =>
    Effect.gen(function*() {
      const store = yield* make()
      const outcomes = yield* Effect.forEach(
        Array.from({ length: 100 }, (_, i) => i),
        (i) => Effect.either(store.clients.create({ client_id: "same", client_name: `${i}`, scopes: [] })),
        { concurrency: "unbounded" }
      )
      expect(outcomes.filter(Either.isRight).length).toBe(1)
      expect(outcomes.filter(Either.isLeft).map((o) => o.left._tag)).toEqual(Array(99).fill("DuplicateClientId"))
      expect((yield* store.stored).length).toBe(1)
    }))

  it.effect("of concurrent deletes of one client, exactly one succeeds", () =>
    Effect.gen(function*() {
      const store = yield* make({ seed: [{ client_id: "x", client_secret: Redacted.make("Seeded-Secret-1234-q") }] })
      const outcomes = yield* Effect.forEach(
        Array.from({ length: 50 }),
        () => Effect.either(store.clients.delete({ client_id: "x" })),
        { concurrency: "unbounded" }
      )
      expect(outcomes.filter(Either.isRight).length).toBe(1)
      expect((yield* store.stored).length).toBe(0)
    }))
})

describe("seed", () => {
  it.effect("starts from the given clients, in order, with their fields and rotation state", () =>
    Effect.gen(function*() {
      const clients = yield* M2MClients
      const page = yield* clients.search({})
      expect(page.m2m_clients.map((c) => c.client_id)).toEqual(["first", "second"])
      expect({ ...page.m2m_clients[0]! }).toEqual({
        client_id: "first",
        client_name: "First",
        client_description: "seeded",
        status: "inactive",
        scopes: ["read"],
        client_secret_last_four: "1111",
        next_client_secret_last_four: null,
        trusted_metadata: { team: "a" }
      })
      expect(page.m2m_clients[1]).toMatchObject({
        client_secret_last_four: "2222",
        next_client_secret_last_four: "3333"
      })
      // The seeded rotation completes like any other.
      const rotated = yield* clients.secrets.rotate({ client_id: "second" })
      expect(rotated.m2m_client.client_secret_last_four).toBe("3333")
      // New clients come after the seeded ones.
      const created = yield* clients.create({ scopes: [] })
      const all = yield* clients.search({})
      expect(all.m2m_clients.at(-1)?.client_id).toBe(created.m2m_client.client_id)
    }).pipe(Effect.provide(layer({
      seed: [
        {
          client_id: "first",
          client_secret: Redacted.make("Seeded-Secret-First-1111"),
          client_name: "First",
          client_description: "seeded",
          status: "inactive",
          scopes: ["read"],
          trusted_metadata: { team: "a" }
        },
        {
          client_id: "second",
          client_secret: Redacted.make("Seeded-Secret-Second-2222"),
          next_client_secret: Redacted.make("Seeded-Secret-Next-3333")
        }
      ]
    }))))

  it.effect("generates the id of a seed that has none", () =>
    Effect.gen(function*() {
      const store = yield* make({ seed: [{ client_secret: Redacted.make("Seeded-Secret-Anon-9876") }] })
      const [stored] = yield* store.stored
      expect(stored!.client.client_id).toMatch(new RegExp(`^m2m-client-test-${uuid}$`))
    }))

  it.effect.each<{ readonly when: string; readonly seed: ReadonlyArray<SeedClient>; readonly message: string }>([
    {
      when: "a weak secret",
      seed: [{ client_id: "weak", client_secret: Redacted.make("password") }],
      message: "seed client weak breaks a rule"
    },
    {
      when: "a short next secret",
      seed: [{
        client_id: "short",
        client_secret: Redacted.make("Seeded-Secret-Ok-4321"),
        next_client_secret: Redacted.make("Ab1")
      }],
      message: "seed client short breaks a rule"
    },
    {
      when: "a bad scope",
      seed: [{ client_id: "scoped", client_secret: Redacted.make("Seeded-Secret-Ok-4321"), scopes: ["a\"b"] }],
      message: "seed client scoped breaks a rule"
    },
    {
      when: "a path-breaking id",
      seed: [{ client_id: "..", client_secret: Redacted.make("Seeded-Secret-Ok-4321") }],
      message: "seed client .. breaks a rule: M2MClients.create: client_id must not be"
    },
    {
      when: "an unknown status",
      seed: [{ client_id: "odd", client_secret: Redacted.make("Seeded-Secret-Ok-4321"), status: "bogus" as never }],
      message: "seed client odd breaks a rule: M2MClients.update: status must be"
    },
    {
      when: "metadata nested too deep",
      seed: [{
        client_id: "deep",
        client_secret: Redacted.make("Seeded-Secret-Ok-4321"),
        trusted_metadata: JSON.parse("{\"a\":".repeat(70) + "{}" + "}".repeat(70))
      }],
      message: "seed client deep breaks a rule: M2MClients.create: trusted_metadata must be a JSON object"
    },
    {
      when: "an id twice",
      seed: [
        { client_id: "twin", client_secret: Redacted.make("Seeded-Secret-Ok-4321") },
        { client_id: "twin", client_secret: Redacted.make("Seeded-Secret-Ok-8765") }
      ],
      message: "seed client twin appears twice"
    }
  ])(
    "a seed with $when is a defect that names the client, not its secret",
    ({ message, seed }) =>
      Effect.gen(function*() {
        const exit = yield* Effect.exit(make({ seed }))
        expect(Exit.isFailure(exit) && !Exit.isInterrupted(exit)).toBe(true)
        const printed = String(Exit.isFailure(exit) ? exit.cause : "")
        expect(printed).toContain(message)
        for (const client of seed) expect(printed).not.toContain(Redacted.value(client.client_secret))
      })
  )
})

describe("what callers hold", () => {
  it.effect("cannot change the store: the request's lists and metadata, nor the response's", () =>
    Effect.gen(function*() {
      const { clients } = yield* make()
      const scopes = ["read"]
      const trusted_metadata = { team: "billing", nested: { tier: 1 } }
      const created = yield* clients.create({ client_id: "held", scopes, trusted_metadata })
      scopes.push("admin")
      trusted_metadata.team = "other"
      trusted_metadata.nested.tier = 2
      const { m2m_client } = yield* clients.get({ client_id: "held" })
      expect(m2m_client.scopes).toEqual(["read"])
      expect(m2m_client.trusted_metadata).toEqual({ team: "billing", nested: { tier: 1 } })
      // What a response hands out is frozen: a plain-JavaScript caller cannot write through it either.
      expect(() => (created.m2m_client.scopes as Array<string>).push("admin")).toThrow(TypeError)
      expect(() => {
        ;(m2m_client.trusted_metadata.nested as Record<string, unknown>).tier = 3
      }).toThrow(TypeError)
      const admins = yield* clients.search({
        query: { operator: "AND", operands: [{ filter_name: "scopes", filter_value: ["admin"] }] }
      })
      expect(admins.m2m_clients).toHaveLength(0)
    }))

  it.effect("cannot change the store through objects it froze only on the surface", () =>
    Effect.gen(function*() {
      const { clients } = yield* make()
      const nested = { tier: 1 }
      yield* clients.create({ client_id: "shallow", scopes: [], trusted_metadata: Object.freeze({ nested }) })
      nested.tier = 2
      const { m2m_client } = yield* clients.get({ client_id: "shallow" })
      expect(m2m_client.trusted_metadata).toEqual({ nested: { tier: 1 } })
    }))
})

describe("custom secrets", () => {
  it.effect.each([
    { secret: "Tr0ub4dor&3", accepted: true },
    { secret: "correct-horse-battery", accepted: true },
    { secret: "12345678", accepted: false },
    { secret: "password", accepted: false },
    { secret: "abcabcabcabc", accepted: false },
    { secret: "zzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzz", accepted: false }
  ])("$secret is accepted: $accepted", ({ accepted, secret }) =>
    Effect.gen(function*() {
      const clients = yield* M2MClients
      const outcome = yield* Effect.either(clients.create({ scopes: [], client_secret: Redacted.make(secret) }))
      expect(Either.isRight(outcome)).toBe(accepted)
      if (Either.isLeft(outcome)) expect(outcome.left).toMatchObject({ error_type: "insecure_m2m_client_secret" })
    }).pipe(Effect.provide(layer())))
})

describe("options", () => {
  it.effect("totals: false answers every total as -1, as Stytch does with totals turned off", () =>
    Effect.gen(function*() {
      const clients = yield* M2MClients
      yield* clients.create({ scopes: ["x"] })
      expect((yield* clients.search({})).results_metadata.total).toBe(-1)
      const filtered = yield* clients.search({
        query: { operator: "OR", operands: [{ filter_name: "scopes", filter_value: ["x"] }] }
      })
      expect(filtered.results_metadata.total).toBe(-1)
      expect(filtered.m2m_clients.length).toBe(1)
    }).pipe(Effect.provide(layer({ totals: false }))))
})
