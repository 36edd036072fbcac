import type { Socket } from 'node:net';

const corked = new WeakSet<Socket>();

/**
 * Corks `socket` until the end of this turn of the event loop, so every frame
 * written in the turn (many replies, many pipelined requests) leaves in one write
 * system call and, with no-delay on, as few segments as possible.
 */
export function corkForThisTurn(socket: Socket): void {
  if (corked.has(socket)) return;
  corked.add(socket);
  socket.cork();
  process.nextTick(() => {
    corked.delete(socket);
    socket.uncork();
  });
}
