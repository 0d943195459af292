/**
 * How a fault plan applies to one request: which faults its route has, and what one draw from
 * `Random` makes of them.
 */
import type { FaultPlan, RouteFaults, RouteName } from "../Faults.js"

/** The faults one request meets: the route's own over `all`, field by field. */
export const faultsFor = (plan: FaultPlan, route: RouteName): RouteFaults => ({
  ...plan.all,
  ...plan.routes?.[route]
})

/** What happens to one request, decided by one draw from `Random`. */
export type FaultDecision =
  | { readonly _tag: "Serve" }
  | { readonly _tag: "Drop"; readonly afterCommit: boolean }
  | { readonly _tag: "Fail"; readonly status: 500 | 503 }
  | { readonly _tag: "CommitThenFail"; readonly status: 500 | 503 }

export const decide = (faults: RouteFaults, draw: number): FaultDecision => {
  let upTo = 0
  if (faults.drop && draw < (upTo += faults.drop.share)) {
    return { _tag: "Drop", afterCommit: faults.drop.afterCommit ?? false }
  }
  if (faults.fail && draw < (upTo += faults.fail.share)) return { _tag: "Fail", status: faults.fail.status ?? 500 }
  if (faults.commitThenFail && draw < (upTo += faults.commitThenFail.share)) {
    return { _tag: "CommitThenFail", status: faults.commitThenFail.status ?? 500 }
  }
  return { _tag: "Serve" }
}
