// The README's TypeScript blocks are copies of files the typecheck compiles, so the docs cannot rot:
// each block must follow a `<!-- checked: path -->` line naming its file, and match that file exactly.
import { describe, expect, it } from "@effect/vitest"
import { readFileSync } from "node:fs"
import { fileURLToPath } from "node:url"

const root = fileURLToPath(new URL("../../../", import.meta.url))
const readme = readFileSync(`${root}README.md`, "utf8")

const blocks = [...readme.matchAll(/(?:<!-- checked: (?<file>\S+) -->\n)?```(?:ts|typescript)\n(?<code>[\s\S]*?)```/g)]
  .map((match) => ({ file: match.groups?.file, code: match.groups!.code! }))

describe("README.md", () => {
  it("has TypeScript blocks to check", () => {
    expect(blocks.length).toBeGreaterThanOrEqual(5)
  })

  it.each(blocks.map((block, index) => [block.file ?? `block ${index + 1} (no checked: line)`, block] as const))(
    "%s matches the compiled file",
    (_, block) => {
      expect(block.file, "every TypeScript block names the file that compiles it").toBeDefined()
      expect(block.code).toBe(readFileSync(`${root}${block.file}`, "utf8"))
    }
  )
})
