/**
 * `stytch-m2m`, a command line for the people who operate Stytch M2M clients, as a library: the
 * command tree (`command`) and `main`, which runs a command line and answers its exit code.
 */
export * from "./Cli.js"
