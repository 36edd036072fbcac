import type http from 'node:http';
import type { AddressInfo } from 'node:net';

/** Listens on `host:port`; resolves with the bound address, rejects with the
 * system error (EADDRINUSE, ...) so the CLI can print one clear line. */
export async function listenHttp(server: http.Server, port: number, host: string): Promise<AddressInfo> {
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  return server.address() as AddressInfo;
}
