/**
 * A TCP load balancer on loopback, for a client that knows one address (the device agent)
 * in front of several API nodes: each new connection goes to the next node in turn, and to
 * the one after when a node refuses it, as a load balancer's health check would steer it.
 * A connection whose node dies is cut; the client's next connection finds a live node.
 */
import net from 'node:net';

export interface Balancer {
  url: string;
  /** Connections handed to each node, by its port. */
  connections: Record<number, number>;
  close(): Promise<void>;
}

export async function startBalancer(ports: number[]): Promise<Balancer> {
  const connections: Record<number, number> = {};
  let turn = 0;
  const sockets = new Set<net.Socket>();
  const track = (s: net.Socket) => {
    sockets.add(s);
    s.once('close', () => sockets.delete(s));
  };
  const server = net.createServer((client) => {
    track(client);
    client.pause();
    const start = turn++;
    const tryNode = (tried: number) => {
      if (tried === ports.length || client.destroyed) {
        client.destroy();
        return;
      }
      const port = ports[(start + tried) % ports.length]!;
      const upstream = net.connect(port, '127.0.0.1');
      track(upstream);
      let connected = false;
      upstream.once('error', () => {
        if (!connected) tryNode(tried + 1);
      });
      upstream.once('connect', () => {
        connected = true;
        connections[port] = (connections[port] ?? 0) + 1;
        upstream.on('error', () => client.destroy());
        client.on('error', () => upstream.destroy());
        upstream.once('close', () => client.destroy());
        client.once('close', () => upstream.destroy());
        client.pipe(upstream);
        upstream.pipe(client);
        client.resume();
      });
    };
    tryNode(0);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    connections,
    async close() {
      for (const s of sockets) s.destroy();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}
