// @types/bun 1.4.4 does not declare these, though Bun 1.4.4 supports them (checked at runtime):
// adopting an existing fd (inetd fd 0, an accept4()ed fd) and server-side upgradeTLS.
import "bun";

declare module "bun" {
  function connect<Data = undefined>(options: FdSocketOptions<Data>): Promise<Socket<Data>>;
  function listen<Data = undefined>(options: FdSocketOptions<Data>): SocketListener<Data>;
  interface TLSUpgradeOptions<Data> {
    isServer?: boolean;
  }
}
