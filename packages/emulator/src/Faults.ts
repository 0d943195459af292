/**
 * Fault injection: the emulator can answer a share of requests with a 500 or 503, add latency, drop
 * connections without an answer, or carry a change out and then answer as if it had failed, so that
 * retries, timeouts and idempotency can be tested against a server that misbehaves on cue.
 *
 * Faults are off by default. A plan sets them for every route (`all`) and per operation (`routes`,
 * keyed by the service's method names: `create`, `get`, `update`, `delete`, `search`, `rotateStart`,
 * `rotateCancel`, `rotate`, and `token` and `jwks` for the token endpoint and the key set; for `token`,
 * "carried out" means a token was issued); a route's own faults override `all` field by field. The plan can be
 * changed while the emulator runs, and applies from the next request.
 *
 * Each request draws one number from Effect's `Random` (the emulator's `random` option makes it
 * deterministic in tests) and falls into the first band it lands in, in this order: `drop`, `fail`,
 * `commitThenFail`; past them, the request is served normally. Shares that add up to more than 1 leave
 * the later bands less than they asked for.
 */
import { Effect, Ref, Schema } from "effect"
import type { OperationName } from "./internal/paths.js"

export type { OperationName } from "./internal/paths.js"

/** The routes a fault plan names: the eight operations, the token endpoint and the key set. */
export type RouteName = OperationName | "token" | "jwks"

const Share = Schema.Number.pipe(
  Schema.between(0, 1, { message: () => "must be a share from 0 to 1" })
)

export const RouteFaults = Schema.Struct({
  /** A share of requests answered with `status` (500 by default) before the operation runs: nothing changes. */
  fail: Schema.optional(Schema.Struct({ share: Share, status: Schema.optional(Schema.Literal(500, 503)) })),
  /**
   * A share of requests whose connection is closed without an answer: before the operation runs, or
   * with `afterCommit` after it has run (the change is kept, the caller never learns of it).
   */
  drop: Schema.optional(Schema.Struct({ share: Share, afterCommit: Schema.optional(Schema.Boolean) })),
  /** A share of requests that are carried out, then answered with `status` (500 by default). */
  commitThenFail: Schema.optional(
    Schema.Struct({ share: Share, status: Schema.optional(Schema.Literal(500, 503)) })
  ),
  /** Added before every answer on the route, faulty or not. Milliseconds on the wire (JSON). */
  latency: Schema.optional(Schema.DurationFromMillis)
})
export interface RouteFaults extends Schema.Schema.Type<typeof RouteFaults> {}

const RouteNameSchema = Schema.Literal(
  "create",
  "get",
  "update",
  "delete",
  "search",
  "rotateStart",
  "rotateCancel",
  "rotate",
  "token",
  "jwks"
) satisfies Schema.Schema<RouteName>

export const FaultPlan = Schema.Struct({
  all: Schema.optional(RouteFaults),
  routes: Schema.optional(Schema.partial(Schema.Record({ key: RouteNameSchema, value: RouteFaults })))
})
export interface FaultPlan extends Schema.Schema.Type<typeof FaultPlan> {}

/** A plan as JSON (latency in milliseconds), as the standalone emulator reads it from its environment. */
export const FaultPlanFromJson = Schema.parseJson(FaultPlan)

export declare namespace Faults {
  export interface Service {
    /** Replaces the whole plan. */
    readonly set: (plan: FaultPlan) => Effect.Effect<void>
    /** Sets (or, with `undefined`, removes) one route's own faults, keeping the rest of the plan. */
    readonly setRoute: (route: RouteName, faults: RouteFaults | undefined) => Effect.Effect<void>
    /** Turns every fault off. */
    readonly clear: Effect.Effect<void>
    readonly plan: Effect.Effect<FaultPlan>
  }
}

// A share outside 0..1 is a bug in the test that set it: fail loudly rather than guess.
const validatePlan = (plan: FaultPlan) => Effect.orDie(Schema.validate(FaultPlan)(plan))

/** The fault plan of a running emulator, changeable while it runs. */
export const makeFaults = (initial: FaultPlan = {}): Effect.Effect<Faults.Service> =>
  Effect.map(Effect.flatMap(validatePlan(initial), Ref.make<FaultPlan>), (ref) => ({
    set: (plan) => Effect.flatMap(validatePlan(plan), (valid) => Ref.set(ref, valid)),
    setRoute: (route, faults) =>
      Effect.flatMap(Ref.get(ref), (plan) => {
        const { [route]: _, ...others } = plan.routes ?? {}
        return Effect.flatMap(
          validatePlan({ ...plan, routes: faults === undefined ? others : { ...others, [route]: faults } }),
          (valid) => Ref.set(ref, valid)
        )
      }),
    clear: Ref.set(ref, {}),
    plan: Ref.get(ref)
  }))
