/**
 * The fault-injection suite: thousands of mixed operations through the http layer, sixteen at a time,
 * against an emulator that answers a share of requests with 503s, drops connections before and after
 * carrying them out, commits a change and then answers 500, and adds latency. Afterwards the emulator's
 * store must hold what a model of the outcomes allows.
 *
 * The model keeps, for each client id, the set of states the client may be in. A success or a
 * definite refusal (`ClientNotFound`, `SecretNotRotating`...) narrows that set to the states that
 * explain the answer; a `ServerError` or `TransportError` may have come after the server did the work,
 * so it widens the set to "applied or not". Each worker owns its client ids, so the operations on one
 * id happen in a known order although the workers run concurrently; searches and gets narrow the sets
 * again as they read. A create without a client id is sent with one the layer generates, and an error
 * whose outcome is unknown names it, so it is modelled like the others; every create also tags its
 * client's `trusted_metadata`, and each tag may appear at most once.
 *
 * An attempt the layer abandoned at its timeout may still land at any later time, after the caller's
 * next operations. Such an operation stays pending on its client forever: every later reading allows
 * each state that landing it (and the other pending ones), in any order, could have made. A second run
 * makes updates outlive their timeout, so that late landings really happen.
 */
import { NodeHttpClient } from "@effect/platform-node"
import { describe, expect, it } from "@effect/vitest"
import type {
  JsonObject,
  M2MClient,
  M2MClientsCreateRequest,
  M2MClientStatus,
  M2MClientsUpdateRequest
} from "@stytch-effect/core"
import { M2MClients } from "@stytch-effect/core"
import type { FaultPlan } from "@stytch-effect/emulator"
import { Emulator } from "@stytch-effect/emulator"
import { HttpM2MClients } from "@stytch-effect/http"
import { ClientCredentials } from "@stytch-effect/memory"
import { M2MClientsSearch } from "@stytch-effect/search"
import {
  Cause,
  Chunk,
  Duration,
  Effect,
  Exit,
  FiberRef,
  Layer,
  Logger,
  LogLevel,
  Option,
  Random,
  Redacted,
  Ref,
  Schedule,
  Stream
} from "effect"
import { isDeepStrictEqual } from "node:util"

const workers = 16
const operationsPerWorker = 125
/** The fault plan flips between dropping before and after the commit every this many operations. */
const flipDropEvery = 150

/**
 * Every route fails a share of requests with a 503 before acting and drops a share of connections
 * (before or after acting, as `afterCommit` says); the routes that change state also carry a share out
 * and then answer 500.
 */
const faultPlan = (afterCommit: boolean, updateLatency = Duration.millis(1)): FaultPlan => {
  const committing = { commitThenFail: { share: 0.06 } }
  return {
    all: { fail: { share: 0.06, status: 503 }, drop: { share: 0.05, afterCommit }, latency: Duration.millis(1) },
    routes: {
      create: { commitThenFail: { share: 0.1 }, latency: Duration.millis(2) },
      update: { ...committing, latency: updateLatency },
      delete: committing,
      rotateStart: committing,
      rotateCancel: committing,
      rotate: committing,
      search: { latency: Duration.millis(2) }
    }
  }
}

// ---------------------------------------------------------------------------------------------------
// The model: what a client may look like, and what each operation does to it.
// ---------------------------------------------------------------------------------------------------

interface Present {
  readonly client_name: string
  readonly client_description: string
  readonly status: M2MClientStatus
  readonly scopes: ReadonlyArray<string>
  readonly trusted_metadata: JsonObject
  /** Undefined when the only answer that told it was lost. */
  readonly secretLastFour: string | undefined
  readonly rotating: boolean
  readonly nextLastFour: string | undefined
}

/** `null`: no client has the id. */
type State = Present | null

type Operation =
  | { readonly _tag: "create"; readonly request: M2MClientsCreateRequest }
  | { readonly _tag: "get"; readonly client_id: string }
  | { readonly _tag: "update"; readonly request: M2MClientsUpdateRequest }
  | { readonly _tag: "delete"; readonly client_id: string }
  | { readonly _tag: "rotateStart"; readonly client_id: string }
  | { readonly _tag: "rotateCancel"; readonly client_id: string }
  | { readonly _tag: "rotate"; readonly client_id: string }
  | { readonly _tag: "search"; readonly client_ids: ReadonlyArray<string> }

/** The answers that say the server refused the operation and changed nothing. */
const refusals = ["ClientNotFound", "DuplicateClientId", "SecretAlreadyRotating", "SecretNotRotating"] as const
type Refusal = typeof refusals[number]

type Step = { readonly _tag: "Applied"; readonly state: State } | { readonly _tag: "Refused"; readonly error: Refusal }

const applied = (state: State): Step => ({ _tag: "Applied", state })
const refused = (error: Refusal): Step => ({ _tag: "Refused", error })

/** What the operation does to a client in `state`: Stytch's rules, written out independently of the store. */
const apply = (operation: Exclude<Operation, { _tag: "search" }>, state: State): Step => {
  if (operation._tag === "create") {
    const { request } = operation
    return state !== null ? refused("DuplicateClientId") : applied({
      client_name: request.client_name ?? "",
      client_description: request.client_description ?? "",
      status: "active",
      scopes: request.scopes,
      trusted_metadata: request.trusted_metadata ?? {},
      secretLastFour: request.client_secret && Redacted.value(request.client_secret).slice(-4),
      rotating: false,
      nextLastFour: undefined
    })
  }
  if (state === null) return refused("ClientNotFound")
  switch (operation._tag) {
    case "get":
      return applied(state)
    case "update": {
      const { request } = operation
      return applied({
        ...state,
        client_name: request.client_name ?? state.client_name,
        client_description: request.client_description ?? state.client_description,
        status: request.status ?? state.status,
        scopes: request.scopes ?? state.scopes,
        trusted_metadata: request.trusted_metadata ?? state.trusted_metadata
      })
    }
    case "delete":
      return applied(null)
    case "rotateStart":
      return state.rotating ? refused("SecretAlreadyRotating") : applied({ ...state, rotating: true })
    case "rotateCancel":
      return state.rotating
        ? applied({ ...state, rotating: false, nextLastFour: undefined })
        : refused("SecretNotRotating")
    case "rotate":
      return state.rotating
        ? applied({ ...state, secretLastFour: state.nextLastFour, rotating: false, nextLastFour: undefined })
        : refused("SecretNotRotating")
  }
}

/** Whether the client the server showed can be `state`; unknown secrets match any. */
const matches = (state: State, seen: M2MClient | null): boolean => {
  if (state === null || seen === null) return state === seen
  return state.client_name === seen.client_name &&
    state.client_description === seen.client_description &&
    state.status === seen.status &&
    isDeepStrictEqual(state.scopes, seen.scopes) &&
    isDeepStrictEqual(state.trusted_metadata, seen.trusted_metadata) &&
    (state.secretLastFour === undefined || state.secretLastFour === seen.client_secret_last_four) &&
    state.rotating === (seen.next_client_secret_last_four !== null) &&
    (state.nextLastFour === undefined || state.nextLastFour === seen.next_client_secret_last_four)
}

/** The state, with what the server just showed filled into what the model did not know. */
const learn = (state: State, seen: M2MClient | null): State =>
  state === null || seen === null ? state : {
    ...state,
    secretLastFour: seen.client_secret_last_four,
    nextLastFour: seen.next_client_secret_last_four ?? undefined
  }

const distinct = (states: ReadonlyArray<State>): ReadonlyArray<State> => {
  const byKey = new Map(states.map((state) => [JSON.stringify(state), state]))
  return [...byKey.values()]
}

const describeState = (state: State) => state === null ? "absent" : JSON.stringify(state)

const describeClient = (client: M2MClient | null) =>
  client === null ? "absent" : JSON.stringify({
    client_name: client.client_name,
    client_description: client.client_description,
    status: client.status,
    scopes: client.scopes,
    trusted_metadata: client.trusted_metadata,
    client_secret_last_four: client.client_secret_last_four,
    next_client_secret_last_four: client.next_client_secret_last_four
  })

// ---------------------------------------------------------------------------------------------------
// The run: what happened, and the model built from it.
// ---------------------------------------------------------------------------------------------------

type Changing = Exclude<Operation, { _tag: "search" }>

interface Run {
  /** Each client id some worker knows, to the states its client may be in. */
  readonly model: Map<string, ReadonlyArray<State>>
  /** The operations on each id with an attempt abandoned at its timeout: each may still land. */
  readonly pending: Map<string, Array<Changing>>
  /** Each client's operations and their outcomes, in order, for a problem's report. */
  readonly history: Map<string, Array<string>>
  /** Tags of creates without a client id whose outcome is unknown, to the client each would have made. */
  readonly orphans: Map<string, State>
  /** Anything the model could not explain, or an error outside the operation's expected ones. */
  readonly problems: Array<string>
  readonly defects: Array<string>
  /** How each operation ended, by `_tag` ("Success" for a success). */
  readonly outcomes: Map<string, number>
}

const count = (run: Run, key: string) => run.outcomes.set(key, (run.outcomes.get(key) ?? 0) + 1)

/** `states`, and every state that landing some of `pending`, in any order, could make of them. */
const withLateLandings = (states: ReadonlyArray<State>, pending: ReadonlyArray<Changing>): ReadonlyArray<State> => {
  const all = new Map(states.map((state) => [JSON.stringify(state), state]))
  let frontier = [...all.values()]
  while (frontier.length > 0) {
    const next: Array<State> = []
    for (const state of frontier) {
      for (const operation of pending) {
        const step = apply(operation, state)
        if (step._tag !== "Applied") continue
        const key = JSON.stringify(step.state)
        if (!all.has(key)) {
          all.set(key, step.state)
          next.push(step.state)
        }
      }
    }
    frontier = next
  }
  return [...all.values()]
}

/** The states the client under `client_id` may be in now. */
const statesOf = (run: Run, client_id: string) =>
  withLateLandings(run.model.get(client_id) ?? [null], run.pending.get(client_id) ?? [])

/** A secret of the caller's own that passes the store's strength rule, ending in a per-operation number. */
const customSecret = (n: number) => Redacted.make(`Fault-S3cret-xYzQ-${String(n).padStart(4, "0")}`)

/** Ids that are odd but valid: each must reach its own client through the percent-encoded path. */
const callerIds = (worker: number): ReadonlyArray<string> => [
  ...Array.from({ length: 6 }, (_, k) => `w${worker}-client-${k}`),
  `w${worker} ../search`,
  `w${worker}/a/b`,
  `w${worker} ünïcødé ✓`,
  `w${worker}%41`
]

const scopeVocabulary = ["read:clients", "write:clients", "admin", "billing:read", "x"]

const pick = <A>(random: Random.Random, from: ReadonlyArray<A>) =>
  Effect.map(random.nextIntBetween(0, from.length), (i) => from[i]!)

const pickScopes = (random: Random.Random) =>
  Effect.map(
    Effect.forEach(scopeVocabulary, () => random.nextBoolean),
    (chosen) => scopeVocabulary.filter((_, i) => chosen[i])
  )

/** The next operation of a worker: a weighted choice over the operations, on one of the ids it owns. */
const nextOperation = (
  random: Random.Random,
  ids: ReadonlyArray<string>,
  tag: string,
  n: number
): Effect.Effect<Operation> =>
  Effect.gen(function*() {
    const roll = yield* random.nextIntBetween(0, 100)
    const client_id = yield* pick(random, ids)
    const trusted_metadata = { op: tag, n }
    if (roll < 14) {
      const withSecret = yield* random.nextBoolean
      return {
        _tag: "create",
        request: {
          client_id,
          ...(withSecret ? { client_secret: customSecret(n) } : {}),
          client_name: `name ${tag}`,
          scopes: yield* pickScopes(random),
          trusted_metadata
        }
      } as const
    }
    if (roll < 22) {
      return {
        _tag: "create",
        request: { client_description: `made by ${tag}`, scopes: yield* pickScopes(random), trusted_metadata }
      } as const
    }
    if (roll < 40) return { _tag: "get", client_id } as const
    if (roll < 56) {
      const fields = yield* Effect.forEach(Array.from({ length: 5 }), () => random.nextBoolean)
      const status: M2MClientStatus = (yield* random.nextBoolean) ? "active" : "inactive"
      return {
        _tag: "update",
        request: {
          client_id,
          ...(fields[0] ? { client_name: `renamed by ${tag}` } : {}),
          ...(fields[1] ? { client_description: `described by ${tag}` } : {}),
          ...(fields[2] ? { status } : {}),
          ...(fields[3] ? { scopes: yield* pickScopes(random) } : {}),
          ...(fields[4] ? { trusted_metadata } : {})
        }
      } as const
    }
    if (roll < 64) return { _tag: "delete", client_id } as const
    if (roll < 72) return { _tag: "search", client_ids: [...ids] } as const
    if (roll < 82) return { _tag: "rotateStart", client_id } as const
    if (roll < 88) return { _tag: "rotateCancel", client_id } as const
    return { _tag: "rotate", client_id } as const
  })

/** What a successful operation showed: the client (`null` for a delete), or a search's clients. */
type Shown =
  | { readonly _tag: "Client"; readonly client: M2MClient | null }
  | { readonly _tag: "Clients"; readonly clients: ReadonlyArray<M2MClient> }

const perform = (
  clients: M2MClients.Service,
  operation: Operation
): Effect.Effect<Shown, { readonly _tag: string }> => {
  const client = <E extends { readonly _tag: string }>(effect: Effect.Effect<{ readonly m2m_client: M2MClient }, E>) =>
    Effect.map(effect, (response): Shown => ({ _tag: "Client", client: response.m2m_client }))
  switch (operation._tag) {
    case "create":
      return client(clients.create(operation.request))
    case "get":
      return client(clients.get({ client_id: operation.client_id }))
    case "update":
      return client(clients.update(operation.request))
    case "delete":
      return Effect.as(clients.delete({ client_id: operation.client_id }), { _tag: "Client", client: null } as const)
    case "rotateStart":
      return client(clients.secrets.rotateStart({ client_id: operation.client_id }))
    case "rotateCancel":
      return client(clients.secrets.rotateCancel({ client_id: operation.client_id }))
    case "rotate":
      return client(clients.secrets.rotate({ client_id: operation.client_id }))
    case "search":
      return Effect.map(
        clients.search({
          query: { operator: "OR", operands: [{ filter_name: "client_id", filter_value: operation.client_ids }] },
          limit: 1000
        }),
        (response): Shown => ({ _tag: "Clients", clients: response.m2m_clients })
      )
  }
}

/** Records in the model what one operation's outcome says about its client. */
const record = (
  run: Run,
  operation: Operation,
  exit: Exit.Exit<Shown, { readonly _tag: string }>,
  tag: string,
  timedOut: boolean
) => {
  const problem = (what: string) => run.problems.push(`${tag} ${operation._tag}: ${what}`)
  const narrow = (client_id: string, next: ReadonlyArray<State>, what: string) => {
    if (next.length === 0) {
      problem(
        `${what} for ${client_id}, which may be ${statesOf(run, client_id).map(describeState)}; before: ${
          (run.history.get(client_id) ?? []).join(", ")
        }`
      )
    } else {
      run.model.set(client_id, distinct(next))
    }
  }
  const mayLandLater = (client_id: string) => {
    if (!timedOut || operation._tag === "search" || operation._tag === "get") return
    run.pending.set(client_id, [...(run.pending.get(client_id) ?? []), operation])
  }
  const see = (client_id: string, seen: M2MClient | null) => {
    const states = statesOf(run, client_id)
    narrow(
      client_id,
      states.filter((state) => matches(state, seen)).map((state) => learn(state, seen)),
      `the server showed ${describeClient(seen)}`
    )
  }

  if (Exit.isFailure(exit) && (Cause.isDie(exit.cause) || Cause.isInterrupted(exit.cause))) {
    run.defects.push(`${tag} ${operation._tag}: ${Cause.pretty(exit.cause)}`)
    return
  }
  const failure = Exit.isSuccess(exit) ? undefined : Option.getOrThrow(Cause.failureOption(exit.cause))
  const outcome = failure === undefined ? "Success" : failure._tag
  count(run, `${operation._tag} ${outcome}`)
  // What an unexpected failure said, for the report.
  const noted = operation._tag === "search"
    ? []
    : [operation._tag === "create" || operation._tag === "update" ? operation.request.client_id : operation.client_id]
  for (const id of noted) {
    if (id !== undefined) {
      run.history.set(id, [
        ...(run.history.get(id) ?? []),
        `${tag} ${operation._tag} ${outcome}${timedOut ? " (timed out)" : ""}`
      ])
    }
  }
  const unexpected = `failed with ${outcome}${
    failure === undefined ? "" : ` (${(failure as { readonly message?: string }).message})`
  }`

  if (operation._tag === "search") {
    if (Exit.isSuccess(exit) && exit.value._tag === "Clients") {
      const found = new Map(exit.value.clients.map((client) => [client.client_id, client]))
      for (const id of found.keys()) {
        if (!operation.client_ids.includes(id)) problem(`the search found ${id}, which it did not ask for`)
      }
      for (const id of operation.client_ids) see(id, found.get(id) ?? null)
    } else if (outcome !== "ServerError" && outcome !== "TransportError") {
      problem(unexpected)
    }
    return
  }

  const client_id = operation._tag === "create" ? operation.request.client_id : operation._tag === "update"
    ? operation.request.client_id
    : operation.client_id

  if (client_id === undefined) {
    // A create without a client id: a new client under the id the layer generated, which an unknown
    // outcome names; or (with no id named) perhaps one nobody knows the id of.
    const made = apply(operation as Changing, null)
    const state = made._tag === "Applied" ? made.state : null
    const error = Exit.isFailure(exit) ? Option.getOrUndefined(Cause.failureOption(exit.cause)) : undefined
    const named = (error as { readonly client_id?: string } | undefined)?.client_id
    if (Exit.isSuccess(exit) && exit.value._tag === "Client" && exit.value.client !== null) {
      const id = exit.value.client.client_id
      if (run.model.has(id)) problem(`the server handed out ${id} a second time`)
      run.model.set(id, [state])
      see(id, exit.value.client)
      mayLandLater(id)
    } else if (outcome === "ClientSecretLost" && named !== undefined) {
      if (run.model.has(named)) problem(`the layer generated ${named} a second time`)
      run.model.set(named, [state])
      mayLandLater(named)
    } else if ((outcome === "ServerError" || outcome === "TransportError") && named !== undefined) {
      if (run.model.has(named)) problem(`the layer generated ${named} a second time`)
      run.model.set(named, [null, state])
      mayLandLater(named)
    } else if (outcome === "ServerError" || outcome === "TransportError") {
      run.orphans.set(tag, state)
    } else {
      problem(unexpected)
    }
    return
  }

  const states = statesOf(run, client_id)
  const steps = states.map((state) => ({
    state,
    step: apply(operation as Exclude<Operation, { _tag: "search" }>, state)
  }))
  const afterApplying = steps.flatMap(({ step }) => step._tag === "Applied" ? [step.state] : [])
  if (Exit.isSuccess(exit)) {
    if (exit.value._tag !== "Client") return problem("answered a search page")
    const seen = exit.value.client
    if (seen !== null && seen.client_id !== client_id) problem(`answered for ${seen.client_id}`)
    narrow(
      client_id,
      afterApplying.filter((state) => seen === null || matches(state, seen)).map((state) => learn(state, seen)),
      `succeeded showing ${describeClient(seen)}`
    )
  } else if ((refusals as ReadonlyArray<string>).includes(outcome)) {
    narrow(
      client_id,
      steps.flatMap(({ state, step }) => step._tag === "Refused" && step.error === outcome ? [state] : []),
      `was refused with ${outcome}`
    )
  } else if (outcome === "ClientSecretLost" && operation._tag === "create" && !operation.request.client_secret) {
    // The id was taken when a retry came: by this very create, or it already was.
    narrow(
      client_id,
      steps.flatMap(({ state, step }) => state !== null ? [state] : step._tag === "Applied" ? [step.state] : []),
      "lost the secret"
    )
  } else if (outcome === "ServerError" || outcome === "TransportError") {
    narrow(client_id, [...states, ...afterApplying], "ended unknown")
  } else {
    problem(unexpected)
  }
  mayLandLater(client_id)
}

// ---------------------------------------------------------------------------------------------------
// The suite
// ---------------------------------------------------------------------------------------------------

/** Error lines the emulator logs (it logs only when it fails to serve a request). */
const emulatorErrors: Array<string> = []
const emulatorLogger = Logger.make(({ logLevel, message }) => {
  if (LogLevel.greaterThanEqual(logLevel, LogLevel.Error)) emulatorErrors.push(String(message))
})

const emulatorLayer = Emulator.layerMemory({ random: Random.make("fault-injection"), faults: faultPlan(false) }).pipe(
  Layer.provide(Logger.replace(Logger.defaultLogger, emulatorLogger))
)

/** Set when an attempt of the current operation was abandoned at its timeout. */
const attemptTimedOut = FiberRef.unsafeMake(false)

const isTimeout = (error: unknown) =>
  (error as { readonly _tag?: string })?._tag === "TransportError" &&
  (error as { readonly reason?: string }).reason === "Timeout"

/**
 * The default backoff (`times` retries, exponential from 1 ms, at most 5 ms), noting every attempt that
 * timed out. A secret is proven by the emulator's store, as a token request will prove it.
 */
const httpClients = (times: number, timeout: Duration.DurationInput) =>
  Effect.gen(function*() {
    const { baseUrl, projectId, secret } = yield* Emulator
    const credentials = yield* ClientCredentials
    const retry = Schedule.exponential("1 millis", 2).pipe(
      Schedule.jittered,
      Schedule.modifyDelay((_, delay) => Duration.min(delay, Duration.millis(5))),
      Schedule.intersect(Schedule.recurs(times)),
      Schedule.tapInput((error: HttpM2MClients.RetriedError) =>
        isTimeout(error) ? FiberRef.set(attemptTimedOut, true) : Effect.void
      )
    )
    return yield* HttpM2MClients.make({ projectId, secret, baseUrl, retry, timeout, proveSecret: credentials.verify })
  })

/** Every client in a store, through its own `M2MClients`, not over HTTP. */
const storeContents = Effect.flatMap(M2MClients, (store) =>
  M2MClientsSearch.clients({ limit: 1000 }).pipe(
    Stream.runCollect,
    Effect.map(Chunk.toReadonlyArray),
    Effect.provideService(M2MClients, store)
  ))

/**
 * `operationsPerWorker` mixed operations for each of `workers`, each attempt limited to `timeout` and
 * retried `times` times, with updates answered after `updateLatency`.
 */
const faultRun = (
  operationsPerWorker: number,
  timeout: Duration.DurationInput,
  updateLatency: Duration.Duration,
  times = 3
) =>
  Effect.gen(function*() {
    const unhandled: Array<unknown> = []
    const onUnhandled = (reason: unknown) => unhandled.push(reason)
    process.on("unhandledRejection", onUnhandled)
    yield* Effect.addFinalizer(() => Effect.sync(() => process.off("unhandledRejection", onUnhandled)))

    const { faults } = yield* Emulator
    yield* faults.set(faultPlan(false, updateLatency))
    const http = yield* httpClients(times, timeout)
    const run: Run = {
      model: new Map(),
      pending: new Map(),
      history: new Map(),
      orphans: new Map(),
      problems: [],
      defects: [],
      outcomes: new Map()
    }
    const done = yield* Ref.make(0)

    yield* Effect.forEach(Array.from({ length: workers }, (_, w) => w), (worker) =>
      Effect.gen(function*() {
        const random = Random.make(`fault-worker-${worker}`)
        const ids = [...callerIds(worker)]
        for (let i = 0; i < operationsPerWorker; i++) {
          const n = worker * operationsPerWorker + i
          const tag = `w${worker}-op${i}`
          const operation = yield* nextOperation(random, ids, tag, n)
          yield* FiberRef.set(attemptTimedOut, false)
          const exit = yield* Effect.exit(Effect.suspend(() => perform(http, operation)))
          const timedOut = (yield* FiberRef.get(attemptTimedOut)) ||
            (Exit.isFailure(exit) && isTimeout(Option.getOrUndefined(Cause.failureOption(exit.cause))))
          record(run, operation, exit, tag, timedOut)
          if (operation._tag === "create" && operation.request.client_id === undefined && Exit.isSuccess(exit)) {
            const shown = exit.value
            if (shown._tag === "Client" && shown.client !== null) ids.push(shown.client.client_id)
          }
          const total = yield* Ref.updateAndGet(done, (k) => k + 1)
          if (total % flipDropEvery === 0) {
            yield* faults.set(faultPlan((total / flipDropEvery) % 2 === 1, updateLatency))
          }
        }
      }), { concurrency: workers, discard: true })

    expect(run.defects).toEqual([])
    expect(run.problems.slice(0, 10)).toEqual([])
    expect(unhandled).toEqual([])
    expect(emulatorErrors).toEqual([])
    // The faults really fired, on both sides of the commit, and most operations still got through.
    const outcomes = (ending: string) =>
      [...run.outcomes].filter(([key]) => key.endsWith(ending)).reduce((sum, [, k]) => sum + k, 0)
    expect(outcomes(" Success")).toBeGreaterThan(workers * operationsPerWorker / 4)
    expect(outcomes(" ServerError")).toBeGreaterThan(0)
    expect(outcomes(" TransportError")).toBeGreaterThan(0)
    // Every create of unknown outcome named its client: nobody is left with a client they cannot find.
    expect(run.orphans.size).toBe(0)
    // Give every abandoned attempt time to land before the store is read.
    yield* Effect.sleep(Duration.sum(updateLatency, Duration.millis(200)))

    // The store, read behind the HTTP surface, holds what the model allows and nothing else.
    const stored = yield* storeContents
    const storedById = new Map(stored.map((client) => [client.client_id, client]))
    const mismatches: Array<string> = []
    for (const id of run.model.keys()) {
      const actual = storedById.get(id) ?? null
      const states = statesOf(run, id)
      if (!states.some((state) => matches(state, actual))) {
        mismatches.push(`${id} is ${describeClient(actual)}, expected one of ${states.map(describeState)}`)
      }
    }
    const tags = new Map<string, number>()
    for (const client of stored) {
      const tag = String(client.trusted_metadata["op"])
      tags.set(tag, (tags.get(tag) ?? 0) + 1)
      if (run.model.has(client.client_id)) continue
      const orphan = run.orphans.get(tag)
      if (orphan === undefined || !matches(orphan, client)) {
        mismatches.push(`${client.client_id} (${describeClient(client)}) comes from no create of unknown outcome`)
      }
    }
    expect(mismatches.slice(0, 10)).toEqual([])
    // No create made two clients: each operation's tag is on at most one client.
    expect([...tags].filter(([, k]) => k > 1)).toEqual([])

    // A walk over HTTP, with search still failing and dropping a share of requests, sees each client once.
    const patient = yield* httpClients(12, "2 seconds")
    const walked = yield* M2MClientsSearch.clients({ limit: 17 }).pipe(
      Stream.map((client) => client.client_id),
      Stream.runCollect,
      Effect.map(Chunk.toReadonlyArray),
      Effect.provideService(M2MClients, patient)
    )
    expect(walked.length).toBe(stored.length)
    expect(new Set(walked)).toEqual(new Set(storedById.keys()))
    expect(emulatorErrors).toEqual([])
    return run
  }).pipe(Effect.scoped, Effect.provide(Layer.merge(emulatorLayer, NodeHttpClient.layerUndici)))

describe("the http layer against an emulator with faults on", () => {
  it.live(
    `${workers * operationsPerWorker} mixed operations at concurrency ${workers} end as the model allows`,
    () => Effect.asVoid(faultRun(operationsPerWorker, "2 seconds", Duration.millis(1))),
    60_000
  )

  it.live(
    `${workers * 20} mixed operations whose updates outlive their timeout and land late end as the model allows`,
    () =>
      Effect.gen(function*() {
        const run = yield* faultRun(20, "1 second", Duration.millis(1500), 1)
        expect(run.outcomes.get("update TransportError")).toBeGreaterThan(0)
        expect([...run.pending.values()].flat().filter((operation) => operation._tag === "update").length)
          .toBeGreaterThan(0)
      }),
    60_000
  )
})
