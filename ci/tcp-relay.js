// ci/tcp-relay.js - forwards TCP from a listen address to a target, one relay per argument.
//
// Usage: node ci/tcp-relay.js LISTEN_HOST TARGET_HOST:TARGET_PORT [TARGET_HOST:TARGET_PORT...]
// For each target, listens on LISTEN_HOST at a port the kernel picks and
// prints one line "TARGET_HOST:TARGET_PORT LISTEN_PORT" on stdout once all are
// listening, then stdout is closed. ci/checks.d/70-podman.sh uses it so that
// pods on podman's bridge reach the PostgreSQL and Redis of ci/services.sh,
// which listen on the host's loopback only, at the bridge gateway
// (host.containers.internal). Each accepted connection gets its own
// connection to the target; when either side closes or fails, both go.
// Runs until SIGTERM or SIGINT.
'use strict';
const net = require('net');

function die(msg) {
    process.stderr.write(`ci/tcp-relay.js: error: ${msg}\n`);
    process.exit(1);
}

const [listenHost, ...targets] = process.argv.slice(2);
if (!listenHost || targets.length === 0) {
    die('usage: node ci/tcp-relay.js LISTEN_HOST TARGET_HOST:TARGET_PORT...');
}

function relay(target) {
    const m = /^(.+):(\d+)$/.exec(target);
    if (!m) die(`bad target ${target} (HOST:PORT)`);
    const host = m[1];
    const port = Number(m[2]);
    const server = net.createServer((client) => {
        const upstream = net.connect({ host, port });
        const close = () => {
            client.destroy();
            upstream.destroy();
        };
        client.on('error', close);
        upstream.on('error', close);
        client.on('close', close);
        upstream.on('close', close);
        client.pipe(upstream);
        upstream.pipe(client);
    });
    return new Promise((resolve, reject) => {
        server.once('error', (e) => reject(new Error(`listen ${listenHost} for ${target}: ${e.message}`)));
        server.listen({ host: listenHost, port: 0 }, () => resolve(`${target} ${server.address().port}`));
    });
}

Promise.all(targets.map(relay)).then(
    (lines) => {
        process.stdout.write(lines.join('\n') + '\n');
        process.stdout.end();
    },
    (e) => die(e.message),
);
for (const sig of ['SIGTERM', 'SIGINT']) process.on(sig, () => process.exit(0));
