// The test projects: one per package under packages/ that has a test/ folder. The root vitest.config.ts passes this list to
// `test.projects` (vitest 3.2 deprecates workspace files as such, so this is a plain module).
import { existsSync, readdirSync } from "node:fs"
import { fileURLToPath } from "node:url"
import type { TestProjectInlineConfiguration } from "vitest/config"

const packagesDir = fileURLToPath(new URL("packages/", import.meta.url))

// Workspace packages resolve to their TypeScript sources in tests, so no build step is needed.
// Setting conditions replaces vite's defaults, hence the last three.
const conditions = ["@stytch-effect/source", "module", "node", "development|production"]

const projects: Array<TestProjectInlineConfiguration> = readdirSync(packagesDir, { withFileTypes: true })
  .filter((entry) => entry.isDirectory() && existsSync(`${packagesDir}${entry.name}/test`))
  .map(({ name }) => ({
    resolve: { conditions },
    ssr: { resolve: { conditions } },
    test: {
      name,
      root: `${packagesDir}${name}`,
      include: ["test/**/*.test.ts"],
      testTimeout: 30_000
    }
  }))

export default projects
