#!/usr/bin/env node
/**
 * The `stytch-m2m` executable. The process exits with the code `main` answers (see the README's table),
 * or 130 when Ctrl-C interrupted it.
 */
import * as NodeRuntime from "@effect/platform-node/NodeRuntime"
import { Cause, Exit } from "effect"
import { main } from "./Cli.js"

NodeRuntime.runMain(main(process.argv), {
  // Exit at once, whatever the code: an idle keep-alive connection would otherwise hold the process
  // for seconds after the work is done. Standard output is written synchronously to files and pipes.
  teardown: (exit) =>
    process.exit(
      Exit.isSuccess(exit)
        ? exit.value as number
        : Cause.isInterruptedOnly(exit.cause)
        ? 130
        : 1
    )
})
