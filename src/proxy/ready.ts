/** Waiting for a socket to be ready (connected, TLS handshake done), bounded in time. */
import type { Socket } from 'node:net';

/** Resolves once `socket` has emitted `event`; rejects on error, close or timeout. */
export function ready(socket: Socket, event: string, timeout: number, timeoutError: () => Error): Promise<void> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => finish(timeoutError()), timeout);
    const finish = (error?: Error) => {
      clearTimeout(timer);
      socket.off(event, onReady);
      socket.off('error', onError);
      socket.off('close', onClose);
      if (error) reject(error);
      else resolve();
    };
    const onReady = () => finish();
    const onError = (error: Error) => finish(error);
    const onClose = () => finish(Object.assign(new Error('the connection closed'), { code: 'ECONNRESET' }));
    socket.once(event, onReady);
    socket.once('error', onError);
    socket.once('close', onClose);
  });
}
