// ci/podman-kube.js - turns the chart's rendered manifests into what `podman kube play` (4.3) runs: the only place that changes them.
//
// Usage: NODE_PATH=$(bash ci/e2e-node.sh) node ci/podman-kube.js RENDERED.yaml OUT_DIR REPLICAS
// Reads `helm template` output and writes to OUT_DIR:
//   pod-<i>.yaml          for i in 0..REPLICAS-1: the Deployment for replica i
//                         plus the ConfigMaps, for one `podman kube play` each
//   secret-<name>.json    per Secret: the podman secret that env secretKeyRef reads
//   secret-<name>-volume.yaml   per Secret: the podman secret a secret volume reads
// and prints one line per item on stdout, for the shell:
//   pod FILE | secret NAME FILE | init CONTAINER | sidecar CONTAINER PORT
//   | liveness CONTAINER PORT PATH (the liveness probes taken out)
// Everything not listed in REWRITES
// below stays exactly as the chart rendered it. The rewrites work on the parsed
// YAML (not on text), so the chart can change around them; each fails loudly
// when what it rewrites is not there.
'use strict';
const fs = require('fs');
const path = require('path');
const YAML = require('yaml');

function die(msg) {
    process.stderr.write(`ci/podman-kube.js: error: ${msg}\n`);
    process.exit(1);
}

const [renderedPath, outDir, replicasArg] = process.argv.slice(2);
const replicas = Number(replicasArg);
if (!renderedPath || !outDir || !Number.isInteger(replicas) || replicas < 1) {
    die('usage: node ci/podman-kube.js RENDERED.yaml OUT_DIR REPLICAS');
}

const docs = YAML.parseAllDocuments(fs.readFileSync(renderedPath, 'utf8'))
    .map((d) => {
        if (d.errors.length > 0) die(`${renderedPath}: ${d.errors[0].message}`);
        return d.toJS();
    })
    .filter((d) => d && typeof d === 'object');
const ofKind = (kind) => docs.filter((d) => d.kind === kind);
const deployments = ofKind('Deployment');
if (deployments.length !== 1) die(`${renderedPath}: expected 1 Deployment, found ${deployments.length}`);
const deployment = deployments[0];
const podSpec = deployment.spec && deployment.spec.template && deployment.spec.template.spec;
if (!podSpec) die(`${renderedPath}: Deployment ${deployment.metadata.name} has no spec.template.spec`);
const allContainers = () => [...(podSpec.initContainers || []), ...(podSpec.containers || [])];

// A podman secret name for the secret volumes of Secret `name` (see below).
const volumeSecretName = (name) => `${name}-volume`;

const liveness = []; // "liveness CONTAINER PORT PATH" lines of the summary

// Each entry: the podman 4.3 limitation it works around, and the change.
const REWRITES = [
    {
        why: 'kube play panics on a configMap or secret volume without `optional:`',
        apply() {
            let n = 0;
            for (const v of podSpec.volumes || []) {
                for (const key of ['configMap', 'secret']) {
                    if (v[key] && v[key].optional === undefined) {
                        v[key].optional = false;
                        n++;
                    }
                }
            }
            return n;
        },
    },
    {
        why:
            'env from secretKeyRef reads a podman secret holding a flat JSON object of key -> base64 value, ' +
            'while a secret volume reads a YAML Secret and writes its `data:` values raw: ' +
            'the volumes get a podman secret of their own',
        apply() {
            let n = 0;
            for (const v of podSpec.volumes || []) {
                if (v.secret) {
                    v.secret.secretName = volumeSecretName(v.secret.secretName);
                    n++;
                }
            }
            return n;
        },
    },
    {
        why:
            "init containers inherit the pod's restartPolicy: Always and rerun in a loop: OnFailure " +
            '(a killed sidecar, exit 137, is still restarted); and init containers of type `always` ' +
            'are kept after they exit, so that their exit codes can be read (podman takes the pod ' +
            "annotations of a Deployment from the Deployment's own metadata)",
        apply() {
            podSpec.restartPolicy = 'OnFailure';
            const meta = deployment.metadata;
            meta.annotations = { ...(meta.annotations || {}), 'io.podman.annotations.init.container.type': 'always' };
            return 1;
        },
    },
    {
        why:
            'readiness and startup probes are ignored; a liveness probe becomes a healthcheck that podman ' +
            'runs through /bin/sh (`CMD-SHELL <command> || exit 1`, curl for httpGet, even for an exec ' +
            'probe), which this image does not have, and healthchecks need systemd to be scheduled: ' +
            'drop the liveness probes (kube play does not fall back to the image HEALTHCHECK); the test ' +
            'GETs their URLs from the host, as a kubelet would, and runs the HEALTHCHECK in a container of its own',
        apply() {
            let n = 0;
            for (const c of allContainers()) {
                const p = c.livenessProbe;
                if (!p) continue;
                if (!p.httpGet) die(`container ${c.name}: a liveness probe other than httpGet`);
                const port = typeof p.httpGet.port === 'number' ? p.httpGet.port : namedPort(c, p.httpGet.port);
                liveness.push(`liveness ${c.name} ${port} ${p.httpGet.path || '/'}`);
                delete c.livenessProbe;
                n++;
            }
            return n;
        },
    },
    {
        why: 'every containerPort is published on the host, so the second pod would collide: no ports',
        apply() {
            let n = 0;
            for (const c of allContainers()) {
                if (c.ports) {
                    delete c.ports;
                    n++;
                }
            }
            return n;
        },
    },
];

function namedPort(container, name) {
    const p = (container.ports || []).find((x) => x.name === name);
    if (!p) die(`container ${container.name}: no port named ${name}`);
    return p.containerPort;
}

// What the summary reports comes from the chart's own output, before the
// rewrites strip the ports.
const sidecar = (podSpec.containers || []).find((c) => c.name === 'schemagate');
if (!sidecar) die(`Deployment ${deployment.metadata.name}: no container named schemagate`);
const sidecarPort = namedPort(sidecar, 'schemagate');

for (const r of REWRITES) {
    const n = r.apply();
    if (n === 0) die(`rewrite found nothing to change: ${r.why}`);
    process.stderr.write(`ci/podman-kube.js: rewrite (${n}x): ${r.why}\n`);
}

fs.mkdirSync(outDir, { recursive: true });
const b64 = (s) => Buffer.from(s, 'utf8').toString('base64');
const secrets = [];
for (const s of ofKind('Secret')) {
    // The rendered Secret may use stringData (plain) or data (base64).
    const plain = {};
    for (const [k, v] of Object.entries(s.stringData || {})) plain[k] = String(v);
    for (const [k, v] of Object.entries(s.data || {})) plain[k] = Buffer.from(String(v), 'base64').toString('utf8');
    const name = s.metadata.name;
    const envFile = path.join(outDir, `secret-${name}.json`);
    const volFile = path.join(outDir, `secret-${name}-volume.yaml`);
    const envData = Object.fromEntries(Object.entries(plain).map(([k, v]) => [k, b64(v)]));
    fs.writeFileSync(envFile, JSON.stringify(envData), { mode: 0o600 });
    fs.writeFileSync(
        volFile,
        YAML.stringify({ apiVersion: 'v1', kind: 'Secret', metadata: { name: volumeSecretName(name) }, data: plain }),
        { mode: 0o600 },
    );
    secrets.push({ name, file: envFile }, { name: volumeSecretName(name), file: volFile });
}

// One kube play of `replicas: 3` makes the pods one after another: each
// pod's init containers have finished before the next pod is created, so they
// never race. One Deployment per replica instead, named <name>-<i>, each
// played by its own `podman kube play` at the same moment. Only ConfigMaps go
// along: the Secrets are podman secrets now, and the other kinds (Service,
// ServiceAccount, ...) have no podman counterpart.
const baseName = deployment.metadata.name;
const pods = [];
for (let i = 0; i < replicas; i++) {
    const d = structuredClone(deployment);
    d.metadata.name = `${baseName}-${i}`;
    d.spec.replicas = 1;
    const out = [...ofKind('ConfigMap'), d].map((x) => YAML.stringify(x)).join('---\n');
    const file = path.join(outDir, `pod-${i}.yaml`);
    fs.writeFileSync(file, out);
    pods.push({ file });
}
const lines = [
    ...pods.map((p) => `pod ${p.file}`),
    ...secrets.map((x) => `secret ${x.name} ${x.file}`),
    ...(podSpec.initContainers || []).map((c) => `init ${c.name}`),
    `sidecar ${sidecar.name} ${sidecarPort}`,
    ...liveness,
];
process.stdout.write(lines.join('\n') + '\n');
