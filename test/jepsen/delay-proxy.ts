// A delaying TCP proxy for the fault suite's `delay` fault where tc netem is
// missing: one per node, in the node's own network namespace (so iptables
// partitions and loss still see the peers' addresses), in front of its Raft
// port; the node advertises the proxy's address, so every peer connection to
// it passes through. While the control file holds "MS JITTER", every chunk, in
// both directions, is forwarded MS ± JITTER ms after it arrived (order kept per
// direction); "0" (or no file) forwards at once.
//
//   node delay-proxy.js LISTEN_HOST LISTEN_PORT TARGET_HOST TARGET_PORT CONTROL_FILE

import { readFileSync } from 'node:fs';
import { createServer, connect, type Socket } from 'node:net';

const [listenHost, listenPort, targetHost, targetPort, control] = process.argv.slice(2);
if (!listenHost || !listenPort || !targetHost || !targetPort || !control) {
  process.stderr.write('usage: delay-proxy LISTEN_HOST LISTEN_PORT TARGET_HOST TARGET_PORT CONTROL_FILE\n');
  process.exit(2);
}

let delay = 0;
let jitter = 0;
function readControl(): void {
  try {
    const [d, j] = readFileSync(control!, 'utf8').trim().split(/\s+/).map(Number);
    delay = Number.isFinite(d) && d! > 0 ? d! : 0;
    jitter = Number.isFinite(j) && j! > 0 ? Math.min(j!, delay) : 0;
  } catch {
    delay = 0;
    jitter = 0;
  }
}
readControl();
setInterval(readControl, 100);

/** Forwards from → to, each chunk after the delay, never overtaking the one before it. */
function pipeDelayed(from: Socket, to: Socket): void {
  let last = 0;
  let queued = 0;
  from.on('data', (chunk: Buffer) => {
    if (delay === 0 && queued === 0) {
      to.write(chunk);
      return;
    }
    const due = Math.max(last, Date.now() + delay + (Math.random() * 2 - 1) * jitter);
    last = due;
    queued++;
    // Back-pressure: a long queue pauses the reader rather than buffering without bound.
    if (queued > 256) from.pause();
    setTimeout(() => {
      queued--;
      if (!to.destroyed) to.write(chunk);
      if (queued <= 64) from.resume();
    }, Math.max(0, due - Date.now()));
  });
  from.on('end', () => {
    const wait = Math.max(0, last - Date.now());
    setTimeout(() => to.end(), wait + 1);
  });
}

const server = createServer((client) => {
  const upstream = connect({ host: targetHost, port: Number(targetPort) });
  client.setNoDelay(true);
  upstream.setNoDelay(true);
  const close = (): void => {
    client.destroy();
    upstream.destroy();
  };
  client.on('error', close);
  upstream.on('error', close);
  client.on('close', () => upstream.destroy());
  upstream.on('close', () => client.destroy());
  pipeDelayed(client, upstream);
  pipeDelayed(upstream, client);
});
server.listen(Number(listenPort), listenHost);
for (const signal of ['SIGTERM', 'SIGINT'] as const) process.on(signal, () => process.exit(0));
