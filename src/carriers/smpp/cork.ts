// Writes of one tick leave together (issue 12): the submits a group commit releases, or the
// receipt answers one status commit releases, reach the socket in the same cascade of promise
// continuations. Corked until that cascade has run, they go out in one writev — one system call
// and a few TCP segments — instead of one each. Nothing waits longer than the current tick.
import type { Socket } from 'node:net'

const corked = new WeakSet<Socket>()

/** Holds the socket's writes until the current tick's callbacks and promise continuations have run. */
export function corkUntilTickEnd(socket: Socket): void {
  if (corked.has(socket)) return
  corked.add(socket)
  socket.cork()
  // nextTick callbacks run after the microtask queue has drained: every write of the cascade is in.
  process.nextTick(() => {
    corked.delete(socket)
    socket.uncork()
  })
}
