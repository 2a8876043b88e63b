/**
 * The runtime floor's program, compiled by bench/modes/runtime-floor.ts and never imported: a
 * Bun.listen that writes one greeting line to each connection and does nothing else, so the memory
 * its processes hold is what Bun itself costs. It prints its port on stdout.
 */
const server = Bun.listen({
  hostname: "127.0.0.1",
  port: 0,
  socket: {
    open(socket) {
      socket.write("+OK bare\r\n");
    },
    data() {},
  },
});
console.log(server.port);
