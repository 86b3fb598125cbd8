// Package cli is Weir's command line: `weir run`, `weir plan` and the cluster commands. It is built from
// small command constructors over an Env (output streams, the Go jobs and operator kinds this binary has),
// so that tests run commands through App.Run and read what they print, and so that a user's binary with
// its own Go jobs runs the same CLI as its main (Main).
package cli
