import { HttpM2MClients } from "@stytch-effect/http"
import { Redacted, Schedule } from "effect"

const credentials = { projectId: "project-test-...", secret: Redacted.make("secret-test-...") }

// Tune the default backoff (3 retries, exponential from 200 ms, jittered, at most 5 s apart)...
export const patient = HttpM2MClients.layer({
  ...credentials,
  retry: { times: 5, baseDelay: "500 millis", maxDelay: "10 seconds" },
  timeout: "15 seconds" // per attempt
})

// ...replace it with a Schedule of your own (still held to Retry-After and to the create-safety rule)...
export const steady = HttpM2MClients.layer({
  ...credentials,
  retry: Schedule.spaced("1 second").pipe(Schedule.intersect(Schedule.recurs(2)))
})

// ...or turn retries off, as a test that counts requests might.
export const once = HttpM2MClients.layer({ ...credentials, retry: false })
