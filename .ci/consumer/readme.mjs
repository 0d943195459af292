// Reads the root README for the consumer check, so that what it runs is what the README says.
//   node readme.mjs install README.md TARBALLS   prints the Installing section's npm lines, each
//                                                @stytch-effect/<name> replaced by its tarball
//   node readme.mjs examples README.md APP       writes each `<!-- checked: path -->` TypeScript block
//                                                to APP/examples/ or, for tests, APP/test/, and each
//                                                TypeScript block of packages/*/README.md to APP/examples/
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs"
import { basename, dirname, join } from "node:path"

const [mode, readmePath, target] = process.argv.slice(2)
const readme = readFileSync(readmePath, "utf8")

if (mode === "install") {
  const section = readme.slice(readme.indexOf("## Installing"))
  const block = /```sh\n([\s\S]*?)```/.exec(section)?.[1] ?? ""
  const tarballs = new Map(
    readdirSync(target).map((file) => [`@stytch-effect/${/^stytch-effect-(.+)-\d[^-]*\.tgz$/.exec(file)?.[1]}`, file])
  )
  const lines = block.split("\n").filter((line) => line.startsWith("npm install "))
  if (lines.length === 0) throw new Error("no `npm install` line in the README's Installing section")
  // Only the npm lines run here; the pnpm lines (the next sh block) must name the same packages.
  const pnpmBlock = /```sh\n([\s\S]*?)```/g
  pnpmBlock.lastIndex = section.indexOf(block) + block.length
  const pnpmLines = (pnpmBlock.exec(section)?.[1] ?? "").split("\n").filter((line) => line.startsWith("pnpm add "))
  const packages = (commands, prefix) =>
    commands.map((line) =>
      line.slice(prefix.length).split(/\s+/).filter((word) => !word.startsWith("-")).sort().join(" ")
    )
  if (JSON.stringify(packages(lines, "npm install ")) !== JSON.stringify(packages(pnpmLines, "pnpm add "))) {
    throw new Error("the README's pnpm lines do not install what its npm lines install")
  }
  for (const line of lines) {
    console.log(line.replace(/@stytch-effect\/[a-z-]+(?=\s|$)/g, (name) => {
      const file = tarballs.get(name)
      if (file === undefined) throw new Error(`the README installs ${name}, which was not packed`)
      return join(target, file)
    }))
  }
} else if (mode === "examples") {
  const blocks = [...readme.matchAll(/<!-- checked: (\S+) -->\n```ts\n([\s\S]*?)```/g)]
  if (blocks.length === 0) throw new Error("no checked TypeScript blocks in the README")
  for (const [, path, code] of blocks) {
    const folder = join(target, path.includes("/test/") ? "test" : "examples")
    mkdirSync(folder, { recursive: true })
    writeFileSync(join(folder, basename(path)), code)
    console.log(`${path} -> ${join(basename(folder), basename(path))}`)
  }
  // The packages' own READMEs, shown on npm, are typechecked too (nothing else compiles their blocks).
  const packages = join(dirname(readmePath), "packages")
  for (const name of readdirSync(packages)) {
    const path = join(packages, name, "README.md")
    if (!existsSync(path)) continue
    const found = [...readFileSync(path, "utf8").matchAll(/```ts\n([\s\S]*?)```/g)]
    found.forEach(([, code], index) => {
      const file = join(target, "examples", `readme-${name}-${index + 1}.ts`)
      writeFileSync(file, code)
      console.log(`packages/${name}/README.md block ${index + 1} -> examples/${basename(file)}`)
    })
  }
} else {
  throw new Error(`unknown mode ${mode}`)
}
