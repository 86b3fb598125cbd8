// Package watch ends work that a change elsewhere made pointless: a request to a node that stopped
// leading, a connection to a node the reader has left.
package watch
