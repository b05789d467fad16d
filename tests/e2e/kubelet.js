'use strict';
// kubelet.js - does what the kubelet would do with a rendered pod spec, with local processes.
//
// For each replica: materialise the pod's volumes (ConfigMap, Secret, emptyDir)
// in a temp folder, resolve env (value, secretKeyRef, configMapKeyRef, the
// downward API), run the init containers in order (a native sidecar, with
// restartPolicy: Always, starts in the background and must pass its
// startupProbe first), start the regular containers that run the schemagate
// image, then poll the probes. Only the schemagate image can run here: the
// application's own container is not started, but its readinessProbe is
// polled, since it points at the sidecar.
//
// Container paths are mapped explicitly and reported: a path below a
// volumeMount's mountPath goes to that volume's folder; any other absolute
// path goes to an empty per-container "image root" (plus what imagePaths
// says the image holds). A chart that mounts the migrations at one path and
// points the binary at another therefore fails. Each pod gets its own
// loopback address as pod IP: a listen address 0.0.0.0:PORT or [::]:PORT
// (all of the pod's interfaces) becomes PODIP:PORT, and probes go to PODIP.

const fs = require('fs');
const path = require('path');
const http = require('http');
const net = require('net');
const { spawn } = require('child_process');

class PodError extends Error {}

function sleep(ms) {
	return new Promise((r) => setTimeout(r, ms));
}

function findObject(docs, kind, name) {
	return docs.find((d) => d.kind === kind && d.metadata && d.metadata.name === name);
}

// Returns {key: string} of a Secret (data is base64, stringData plain) or ConfigMap.
function objectData(obj) {
	const out = {};
	if (obj.kind === 'Secret') {
		for (const [k, v] of Object.entries(obj.data || {}))
			out[k] = Buffer.from(v, 'base64').toString('utf8');
		for (const [k, v] of Object.entries(obj.stringData || {}))
			out[k] = String(v);
	} else {
		for (const [k, v] of Object.entries(obj.data || {}))
			out[k] = String(v);
	}
	return out;
}

// Kubernetes' $(VAR) expansion in command, args and env values; $$ escapes.
function expand(s, env) {
	return String(s).replace(/\$\$|\$\(([A-Za-z_][A-Za-z0-9_.-]*)\)/g, (m, name) => {
		if (m === '$$')
			return '$';
		return Object.prototype.hasOwnProperty.call(env, name) ? env[name] : m;
	});
}

class Pod {
	// opts: {name, ip, index, spec, docs, binary, image, imagePaths, root, log, timeouts}
	constructor(opts) {
		Object.assign(this, opts);
		this.dir = path.join(opts.root, opts.name);
		this.procs = [];
		this.volumeDirs = {};
		this.mappings = [];
	}

	report(msg) {
		this.log(`[${this.name}] ${msg}`);
	}

	lookup(kind, name, key, optional) {
		const obj = findObject(this.docs, kind, name);
		if (!obj) {
			if (optional)
				return undefined;
			throw new PodError(`${kind} ${name} not found (the kubelet would fail with CreateContainerConfigError)`);
		}
		const data = objectData(obj);
		if (key === undefined)
			return data;
		if (!(key in data)) {
			if (optional)
				return undefined;
			throw new PodError(`${kind} ${name} has no key ${key}`);
		}
		return data[key];
	}

	materialiseVolumes() {
		for (const v of this.spec.volumes || []) {
			const dir = path.join(this.dir, 'volumes', v.name);
			fs.mkdirSync(dir, { recursive: true });
			let files = null;
			if (v.configMap) {
				files = this.lookup('ConfigMap', v.configMap.name, undefined, v.configMap.optional);
				files = this.selectItems(files, v.configMap.items, `ConfigMap ${v.configMap.name}`);
			} else if (v.secret) {
				files = this.lookup('Secret', v.secret.secretName, undefined, v.secret.optional);
				files = this.selectItems(files, v.secret.items, `Secret ${v.secret.secretName}`);
			} else if (!v.emptyDir) {
				throw new PodError(`volume ${v.name}: only configMap, secret and emptyDir volumes can be simulated`);
			}
			for (const [p, content] of Object.entries(files || {})) {
				const f = path.join(dir, p);
				fs.mkdirSync(path.dirname(f), { recursive: true });
				fs.writeFileSync(f, content, { mode: 0o600 });
			}
			this.volumeDirs[v.name] = dir;
		}
	}

	selectItems(data, items, what) {
		if (!data || !items)
			return data;
		const out = {};
		for (const it of items) {
			if (!(it.key in data))
				throw new PodError(`${what} has no key ${it.key}`);
			out[it.path] = data[it.key];
		}
		return out;
	}

	// mountPath -> local folder for one container, longest first.
	mountsOf(c) {
		const mounts = [];
		for (const m of c.volumeMounts || []) {
			const dir = this.volumeDirs[m.name];
			if (!dir)
				throw new PodError(`container ${c.name}: volumeMount ${m.name} names no volume of the pod`);
			mounts.push({ mountPath: m.mountPath.replace(/\/+$/, '') || '/', local: m.subPath ? path.join(dir, m.subPath) : dir });
		}
		return mounts.sort((a, b) => b.mountPath.length - a.mountPath.length);
	}

	mapPath(c, mounts, p) {
		for (const m of mounts)
			if (p === m.mountPath || p.startsWith(m.mountPath + '/'))
				return m.local + p.slice(m.mountPath.length);
		for (const [imgPath, local] of Object.entries(this.imagePaths || {}))
			if (p === imgPath || p.startsWith(imgPath + '/'))
				return local + p.slice(imgPath.length);
		// The image's own filesystem: empty here, so a path the chart did not
		// mount (and the image does not hold) does not exist.
		return path.join(this.dir, 'image-root', c.name, p);
	}

	// Rewrites one argument or env value: container paths and all-interfaces listen addresses.
	rewrite(c, mounts, value, what) {
		let v = value;
		const m = /^(--[a-z0-9-]+=)?(.*)$/s.exec(v);
		const prefix = m[1] || '';
		let rest = m[2];
		if (rest.startsWith('/'))
			rest = this.mapPath(c, mounts, rest);
		else if (/^(0\.0\.0\.0|\[::\]):[0-9]+$/.test(rest))
			rest = this.ip + rest.slice(rest.lastIndexOf(':'));
		v = prefix + rest;
		if (v !== value)
			this.mappings.push(`${c.name} ${what}: ${value} -> ${v}`);
		return v;
	}

	resolveEnv(c) {
		const env = {};
		for (const ef of c.envFrom || []) {
			const ref = ef.secretRef || ef.configMapRef;
			const data = this.lookup(ef.secretRef ? 'Secret' : 'ConfigMap', ref.name, undefined, ref.optional) || {};
			for (const [k, v] of Object.entries(data))
				env[(ef.prefix || '') + k] = v;
		}
		for (const e of c.env || []) {
			if ('value' in e) {
				env[e.name] = expand(e.value, env);
				continue;
			}
			const vf = e.valueFrom;
			if (!vf) {
				env[e.name] = '';
			} else if (vf.secretKeyRef) {
				const v = this.lookup('Secret', vf.secretKeyRef.name, vf.secretKeyRef.key, vf.secretKeyRef.optional);
				if (v !== undefined)
					env[e.name] = v;
			} else if (vf.configMapKeyRef) {
				const v = this.lookup('ConfigMap', vf.configMapKeyRef.name, vf.configMapKeyRef.key, vf.configMapKeyRef.optional);
				if (v !== undefined)
					env[e.name] = v;
			} else if (vf.fieldRef) {
				const fp = vf.fieldRef.fieldPath;
				const fields = { 'metadata.name': this.name, 'metadata.namespace': 'default', 'status.podIP': this.ip, 'spec.nodeName': 'e2e-node', 'spec.serviceAccountName': this.spec.serviceAccountName || 'default' };
				if (!(fp in fields))
					throw new PodError(`container ${c.name}: env ${e.name}: fieldRef ${fp} not simulated`);
				env[e.name] = fields[fp];
			} else {
				throw new PodError(`container ${c.name}: env ${e.name}: unsupported valueFrom ${Object.keys(vf)}`);
			}
		}
		return env;
	}

	isOurs(c) {
		return c.image === this.image || String(c.image).split(/[:@]/)[0] === this.image.split(/[:@]/)[0];
	}

	// Builds argv and env of one container as the container runtime would.
	commandOf(c) {
		const mounts = this.mountsOf(c);
		for (const m of mounts)
			this.mappings.push(`${c.name} mount: ${m.mountPath} -> ${m.local}`);
		const env = this.resolveEnv(c);
		for (const [k, v] of Object.entries(env))
			env[k] = this.rewrite(c, mounts, v, `env ${k}`);
		let argv;
		if (c.command && c.command.length) {
			const cmd = expand(c.command[0], env);
			if (cmd !== '/usr/local/bin/schemagate' && cmd !== 'schemagate')
				throw new PodError(`container ${c.name}: command ${cmd} is not the image's /usr/local/bin/schemagate`);
			argv = c.command.slice(1).concat(c.args || []);
		} else {
			argv = (c.args || []).slice(); // ENTRYPOINT ["/usr/local/bin/schemagate"]
		}
		argv = argv.map((a, i) => this.rewrite(c, mounts, expand(a, env), `arg ${i}`));
		// A clean environment: nothing of ours (PG*, SCHEMAGATE_*) leaks in.
		const full = { PATH: '/usr/bin:/bin', HOME: path.join(this.dir, 'image-root', c.name), ...env };
		return { argv, env: full };
	}

	start(c) {
		const { argv, env } = this.commandOf(c);
		const logFile = path.join(this.dir, `${c.name}.log`);
		const fd = fs.openSync(logFile, 'a');
		const child = spawn(this.binary, argv, { env, stdio: ['ignore', fd, fd], cwd: this.dir });
		fs.closeSync(fd);
		const proc = { name: c.name, child, logFile, exit: null, argv };
		proc.done = new Promise((resolve) => {
			child.on('exit', (code, signal) => {
				proc.exit = { code, signal };
				resolve(proc.exit);
			});
			child.on('error', (err) => {
				proc.exit = { code: -1, signal: null, error: err.message };
				resolve(proc.exit);
			});
		});
		this.procs.push(proc);
		this.report(`started ${c.name}: schemagate ${argv.join(' ')}`);
		return proc;
	}

	tail(proc) {
		try {
			return fs.readFileSync(proc.logFile, 'utf8').split('\n').slice(-15).join('\n');
		} catch (e) {
			return '';
		}
	}

	// One probe attempt: true on success.
	async probeOnce(c, probe) {
		const timeout = (probe.timeoutSeconds || 1) * 1000;
		if (probe.httpGet) {
			const port = this.portOf(c, probe.httpGet.port);
			return new Promise((resolve) => {
				const req = http.get({ host: probe.httpGet.host || this.ip, port, path: probe.httpGet.path || '/', timeout }, (res) => {
					res.resume();
					resolve(res.statusCode >= 200 && res.statusCode < 400);
				});
				req.on('timeout', () => req.destroy());
				req.on('error', () => resolve(false));
			});
		}
		if (probe.tcpSocket) {
			const port = this.portOf(c, probe.tcpSocket.port);
			return new Promise((resolve) => {
				const s = net.connect({ host: this.ip, port, timeout }, () => {
					s.destroy();
					resolve(true);
				});
				s.on('error', () => resolve(false));
				s.on('timeout', () => {
					s.destroy();
					resolve(false);
				});
			});
		}
		if (probe.exec) {
			if (!this.isOurs(c))
				throw new PodError(`container ${c.name}: exec probe in an image we cannot run`);
			const { argv, env } = this.commandOf({ ...c, command: probe.exec.command, args: [] });
			return new Promise((resolve) => {
				const child = spawn(this.binary, argv, { env, stdio: 'ignore', timeout });
				child.on('exit', (code) => resolve(code === 0));
				child.on('error', () => resolve(false));
			});
		}
		throw new PodError(`container ${c.name}: probe without httpGet, tcpSocket or exec`);
	}

	// `kubectl exec POD -c NAME -- schemagate ARGS...`: the container's env and
	// mounts, other arguments. Resolves to {code, output}.
	exec(name, args) {
		const all = (this.spec.initContainers || []).concat(this.spec.containers);
		const c = all.find((x) => x.name === name);
		if (!c)
			throw new PodError(`exec: no container ${name}`);
		const { argv, env } = this.commandOf({ ...c, command: ['schemagate'], args });
		return new Promise((resolve) => {
			const child = spawn(this.binary, argv, { env, stdio: ['ignore', 'pipe', 'pipe'], timeout: this.timeouts.initMs });
			let output = '';
			child.stdout.on('data', (d) => (output += d));
			child.stderr.on('data', (d) => (output += d));
			child.on('exit', (code) => resolve({ code, output }));
			child.on('error', (e) => resolve({ code: -1, output: e.message }));
		});
	}

	// A named port resolves only among the ports of the probe's own container.
	portOf(c, port) {
		if (typeof port === 'number')
			return port;
		if (/^[0-9]+$/.test(String(port)))
			return Number(port);
		const p = (c.ports || []).find((x) => x.name === port);
		if (!p)
			throw new PodError(`container ${c.name}: probe port "${port}" is not a port of this container`);
		return p.containerPort;
	}

	// Polls a probe until it succeeds; fails early when a process of the pod exits.
	async waitProbe(c, probe, what, deadlineMs) {
		const period = Math.min((probe.periodSeconds || 10) * 1000, this.timeouts.pollMs);
		const end = Date.now() + deadlineMs;
		for (;;) {
			if (await this.probeOnce(c, probe))
				return Date.now();
			const dead = this.procs.find((p) => p.exit && p.restartAlways);
			if (dead)
				throw new PodError(`${what}: ${dead.name} exited (${JSON.stringify(dead.exit)}) while waiting:\n${this.tail(dead)}`);
			if (Date.now() > end)
				throw new PodError(`${what}: not successful within ${deadlineMs} ms`);
			await sleep(period);
		}
	}

	async runInit() {
		for (const c of this.spec.initContainers || []) {
			if (!this.isOurs(c))
				throw new PodError(`init container ${c.name}: image ${c.image} is not the schemagate image; cannot simulate`);
			if (c.restartPolicy === 'Always') {
				const p = this.start(c);
				p.restartAlways = true;
				if (c.startupProbe)
					await this.waitProbe(c, c.startupProbe, `native sidecar ${c.name} startupProbe`, this.timeouts.startupMs);
				continue;
			}
			const p = this.start(c);
			const timer = setTimeout(() => p.child.kill('SIGTERM'), this.timeouts.initMs);
			const exit = await p.done;
			clearTimeout(timer);
			if (exit.code !== 0)
				throw new PodError(`init container ${c.name} exited ${JSON.stringify(exit)}:\n${this.tail(p)}`);
			this.report(`init container ${c.name} exited 0`);
		}
	}

	async runContainers() {
		const ours = this.spec.containers.filter((c) => this.isOurs(c));
		for (const c of ours) {
			const p = this.start(c);
			p.restartAlways = true;
		}
		for (const c of ours)
			if (c.startupProbe)
				await this.waitProbe(c, c.startupProbe, `${c.name} startupProbe`, this.timeouts.startupMs);
	}

	// Polls the readinessProbe of every container (the app's included) until all pass.
	async waitReady() {
		const start = Date.now();
		const all = (this.spec.initContainers || []).filter((c) => c.restartPolicy === 'Always').concat(this.spec.containers);
		let n = 0;
		for (const c of all) {
			if (!c.readinessProbe)
				continue;
			await this.waitProbe(c, c.readinessProbe, `${c.name} readinessProbe`, this.timeouts.readyMs);
			n++;
		}
		if (n === 0)
			throw new PodError('no container has a readinessProbe');
		return Date.now() - start;
	}

	async stop() {
		for (const p of this.procs)
			if (!p.exit)
				p.child.kill('SIGTERM');
		await Promise.all(
			this.procs.map((p) =>
				Promise.race([
					p.done,
					sleep(this.timeouts.stopMs).then(() => {
						if (!p.exit) {
							p.killed = true;
							p.child.kill('SIGKILL');
						}
						return p.done;
					}),
				])
			)
		);
	}
}

// Runs `replicas` pods of a pod spec at once; calls whileReady(pods) once all
// are ready, before stopping them. Returns per-pod timings; throws on the
// first failure (after stopping every process).
async function runPods({ spec, docs, replicas, namePrefix, binary, image, imagePaths, root, ipBase, log, timeouts, whileReady }) {
	const pods = [];
	for (let i = 0; i < replicas; i++) {
		const suffix = Math.random().toString(36).slice(2, 7);
		pods.push(new Pod({ name: `${namePrefix}-${suffix}`, ip: `${ipBase}.${i + 1}`, index: i, spec, docs, binary, image, imagePaths, root, log, timeouts }));
	}
	try {
		for (const p of pods) {
			fs.mkdirSync(p.dir, { recursive: true });
			p.materialiseVolumes();
		}
		const t0 = Date.now();
		const results = await Promise.all(
			pods.map(async (p) => {
				await p.runInit();
				const initMs = Date.now() - t0;
				await p.runContainers();
				const readyMs = await p.waitReady();
				return { pod: p.name, ip: p.ip, initMs, readyMs: Date.now() - t0, probeMs: readyMs };
			})
		);
		if (whileReady)
			await whileReady(pods);
		await Promise.all(pods.map((p) => p.stop()));
		// A sanitizer build of the binary (SCHEMAGATE_BIN) reports to the logs.
		for (const p of pods)
			for (const proc of p.procs) {
				if (proc.killed)
					throw new PodError(`${proc.name} of ${p.name} did not stop within ${timeouts.stopMs} ms of SIGTERM`);
				if (/Sanitizer|runtime error:/.test(fs.readFileSync(proc.logFile, 'utf8')))
					throw new PodError(`${proc.name} of ${p.name} logged a sanitizer report:\n${p.tail(proc)}`);
			}
		return { pods, results };
	} finally {
		// The explicit container path -> local folder mapping (the same for
		// every replica but the pod folder), so a reader can see what ran where.
		if (pods.length)
			for (const m of [...new Set(pods[0].mappings)])
				log(`[${pods[0].name}] map ${m}`);
		await Promise.all(pods.map((p) => p.stop()));
	}
}

// Runs the pod of a Job once: init containers, then every container to
// completion; each must exit 0. Returns the pod name.
async function runJobPod({ spec, docs, namePrefix, binary, image, imagePaths, root, ip, log, timeouts }) {
	const pod = new Pod({ name: `${namePrefix}-${Math.random().toString(36).slice(2, 7)}`, ip, index: 0, spec, docs, binary, image, imagePaths, root, log, timeouts });
	try {
		fs.mkdirSync(pod.dir, { recursive: true });
		pod.materialiseVolumes();
		await pod.runInit();
		for (const c of spec.containers) {
			if (!pod.isOurs(c))
				throw new PodError(`Job container ${c.name}: image ${c.image} is not the schemagate image`);
			const p = pod.start(c);
			const timer = setTimeout(() => p.child.kill('SIGTERM'), timeouts.initMs);
			const exit = await p.done;
			clearTimeout(timer);
			if (exit.code !== 0)
				throw new PodError(`Job container ${c.name} exited ${JSON.stringify(exit)}:\n${pod.tail(p)}`);
			pod.report(`Job container ${c.name} exited 0`);
		}
		return pod.name;
	} finally {
		for (const m of [...new Set(pod.mappings)])
			log(`[${pod.name}] map ${m}`);
		await pod.stop();
	}
}

module.exports = { runPods, runJobPod, PodError, objectData };
