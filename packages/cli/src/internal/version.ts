/** This package's version, shown by `stytch-m2m --version`. A test keeps it equal to package.json's. */
export const version = "0.1.0"
