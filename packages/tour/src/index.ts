/** The tour program and its layers, for tests and for anyone who wants to run it from their own code. */
export * from "./Live.js"
export * from "./Story.js"
export * from "./Tour.js"
