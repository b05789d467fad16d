'use strict';
// run.js - end-to-end test driven by the chart and the kustomize overlay (see README.md).
//
// Usage: node tests/e2e/run.js [SCENARIO...]   (default: all)
// Needs: NODE_PATH with yaml and kubernetes-models, SCHEMAGATE_BIN, HELM,
// KUBECTL, SCHEMAGATE_TEST_PG_DSN and SCHEMAGATE_TEST_REDIS_URL (ci/services.sh).
// Prints one line per scenario and ends with "N passed, N failed".

const fs = require('fs');
const os = require('os');
const path = require('path');
const crypto = require('crypto');
const net = require('net');
const http = require('http');
const { spawnSync } = require('child_process');
const YAML = require('yaml');
const { validateAll } = require('./validate');
const { runPods, runJobPod, PodError } = require('./kubelet');

const repo = path.resolve(__dirname, '..', '..');
const env = process.env;
for (const v of ['SCHEMAGATE_BIN', 'HELM', 'KUBECTL', 'SCHEMAGATE_TEST_PG_DSN', 'SCHEMAGATE_TEST_REDIS_URL'])
	if (!env[v]) {
		console.error(`run.js: ${v} is not set (run through ci/checks.d/40-e2e-chart.sh)`);
		process.exit(2);
	}
const IMAGE = 'ghcr.io/schemagate/schemagate';
const work = fs.mkdtempSync(path.join(env.SG_E2E_TMP || os.tmpdir(), 'sg-e2e.'));
const log = (msg) => console.log(msg);

// Milliseconds: the e2e values make the binary poll in 100-200 ms steps.
const TIMEOUTS = { initMs: 60000, startupMs: 20000, readyMs: 30000, stopMs: 5000, pollMs: 200 };
const NEGATIVE_TIMEOUTS = { ...TIMEOUTS, initMs: 20000, startupMs: 6000, readyMs: 3000 };

function parseDocs(text) {
	return YAML.parseAllDocuments(text)
		.map((d) => {
			if (d.errors.length)
				throw new Error(`YAML: ${d.errors[0].message}`);
			return d.toJS();
		})
		.filter((d) => d && typeof d === 'object');
}

function run(cmd, args, opts = {}) {
	const r = spawnSync(cmd, args, { encoding: 'utf8', maxBuffer: 64 << 20, ...opts });
	if (r.status !== 0)
		throw new Error(`${path.basename(cmd)} ${args.slice(0, 3).join(' ')} ... failed (${r.status}):\n${r.stderr}`);
	return r.stdout;
}

// PostgreSQL through psql, with the connection in the environment, never argv.
function pgEnv(dsn, db) {
	const u = new URL(dsn);
	return { ...env, PGHOST: u.hostname, PGPORT: u.port || '5432', PGUSER: decodeURIComponent(u.username), PGPASSWORD: decodeURIComponent(u.password), PGDATABASE: db || u.pathname.slice(1) || 'postgres', PGSSLMODE: 'disable'};
}

function psql(db, sql) {
	return run('psql', ['-X', '-A', '-t', '-v', 'ON_ERROR_STOP=1', '-c', sql], { env: pgEnv(env.SCHEMAGATE_TEST_PG_DSN, db) }).trim();
}

function createDatabase(tag) {
	const db = `sg_e2e_${tag}_${crypto.randomBytes(4).toString('hex')}`;
	psql(null, `CREATE DATABASE ${db}`);
	const u = new URL(env.SCHEMAGATE_TEST_PG_DSN);
	u.pathname = '/' + db;
	return { db, dsn: u.toString() };
}

function dropDatabase(db) {
	try {
		psql(null, `DROP DATABASE IF EXISTS ${db} WITH (FORCE)`);
	} catch (e) {
		log(`warning: could not drop ${db}: ${e.message}`);
	}
}

function freePort() {
	return new Promise((resolve, reject) => {
		const s = net.createServer();
		s.listen(0, '127.0.0.1', () => {
			const { port } = s.address();
			s.close(() => resolve(port));
		});
		s.on('error', reject);
	});
}

function writeSecretFile(name, content) {
	const f = path.join(work, name);
	fs.writeFileSync(f, content, { mode: 0o600 });
	return f;
}

function migrationFileArgs(dir) {
	const args = [];
	for (const f of fs.readdirSync(dir).sort())
		if (/\.(up|down)\.sql$/.test(f))
			args.push('--set-file', `migrations.files.${f.replace(/\./g, '\\.')}=${path.join(dir, f)}`);
	return args;
}

function upVersions(files) {
	return [...new Set(files.filter((f) => /\.up\.sql$/.test(f)).map((f) => Number(f.split('_')[0])))].sort((a, b) => a - b);
}

function helmTemplate(chart, release, valueFiles, extra) {
	const args = ['template', release, chart];
	for (const f of valueFiles)
		args.push('-f', f);
	return parseDocs(run(env.HELM, args.concat(extra || [])));
}

function deploymentOf(docs, name) {
	const ds = docs.filter((d) => d.kind === 'Deployment' && (!name || d.metadata.name === name));
	if (ds.length !== 1)
		throw new Error(`expected one Deployment${name ? ' ' + name : ''}, found ${ds.length}`);
	return ds[0];
}

function httpGet(url, headers) {
	return new Promise((resolve) => {
		const req = http.get(url, { headers, timeout: 3000 }, (res) => {
			let body = '';
			res.on('data', (c) => (body += c));
			res.on('end', () => resolve({ status: res.statusCode, body }));
		});
		req.on('timeout', () => req.destroy());
		req.on('error', (e) => resolve({ status: 0, body: e.message }));
	});
}

function assert(cond, msg) {
	if (!cond)
		throw new Error(`assertion failed: ${msg}`);
}

// Checks the database after the pods became ready: every migration applied
// once, clean, by one of our pods (POD_NAME from the downward API reached the
// binary), and the required tables exist.
function checkDatabase(db, table, versions, podNames, tables) {
	const rows = psql(db, `SELECT version, applied_by, dirty FROM ${table} ORDER BY version`)
		.split('\n')
		.filter(Boolean)
		.map((l) => l.split('|'));
	assert(JSON.stringify(rows.map((r) => Number(r[0]))) === JSON.stringify(versions), `applied versions ${rows.map((r) => r[0])} == ${versions}`);
	for (const r of rows) {
		assert(r[2] === 'f', `version ${r[0]} is not dirty`);
		assert(podNames.includes(r[1]), `version ${r[0]} applied_by ${r[1]} is one of the pods ${podNames}`);
	}
	const runs = psql(db, `SELECT DISTINCT identity FROM ${table}_runs`).split('\n').filter(Boolean);
	for (const id of runs)
		assert(podNames.includes(id), `run identity ${id} is one of the pods`);
	for (const t of tables)
		assert(psql(db, `SELECT to_regclass('${t}') IS NOT NULL`) === 't', `table ${t} exists`);
	return { applied: rows.length, appliers: [...new Set(rows.map((r) => r[1]))], runIdentities: runs.length };
}

// The sidecar of every pod: /admin refuses a request without the token,
// answers with the Secret's token, and reports the newest migration file as
// both expected and current version. (A sidecar that reads the wrong folder
// still turns ready when the tables exist, but expects version 0.)
async function checkSidecars(pods, port, token, latest) {
	for (const pod of pods) {
		const url = `http://${pod.ip}:${port}/admin/migration-status`;
		const anon = await httpGet(url, {});
		assert(anon.status === 401 || anon.status === 403, `${pod.name}: admin without token refused (got ${anon.status})`);
		// The report may lag readiness by a check interval: poll, with a deadline.
		const end = Date.now() + 3000;
		for (;;) {
			const auth = await httpGet(url, { Authorization: `Bearer ${token}` });
			if (auth.status === 503 && /no status report yet/.test(auth.body) && Date.now() < end) {
				await new Promise((r) => setTimeout(r, 200));
				continue;
			}
			assert(auth.status === 200, `${pod.name}: admin with the Secret's token answers 200 (got ${auth.status}: ${auth.body.slice(0, 200)})`);
			const st = JSON.parse(auth.body);
			if (st.expected_version === latest && st.current_version === latest)
				break;
			assert(Date.now() < end, `${pod.name}: sidecar reports expected ${st.expected_version} and current ${st.current_version}, the newest file is ${latest} (${auth.body.slice(0, 300)})`);
			await new Promise((r) => setTimeout(r, 200));
		}
	}
}

// The command NOTES.txt prints, `kubectl exec ... -c schemagate -- schemagate
// status --table=T`, works with the sidecar's environment and mounts.
async function checkNotesCommand(pod, docs, latest) {
	const table = sidecar(deploymentOf(docs).spec.template.spec).args.find((a) => a.startsWith('--table='));
	assert(table, 'the sidecar passes --table');
	const r = await pod.exec('schemagate', ['status', '--json', table]);
	assert(r.code === 0, `schemagate status in the sidecar exits 0 (got ${r.code}: ${r.output.slice(0, 300)})`);
	const st = JSON.parse(r.output.slice(r.output.indexOf('{')));
	assert(st.current_version === latest, `schemagate status reports version ${st.current_version} == ${latest}`);
}

// Validates the manifests strictly, then runs the Deployment's pods;
// opts.whileReady(pods) runs while they are all ready.
async function runDeployment(opts) {
	const errors = validateAll(opts.docs);
	if (errors.length)
		throw new Error(`strict schema validation failed:\n  ${errors.join('\n  ')}`);
	const dep = deploymentOf(opts.docs, opts.deployment);
	if (opts.replicas !== undefined)
		assert(dep.spec.replicas === opts.replicas, `rendered replicas ${dep.spec.replicas} == ${opts.replicas}`);
	return runPods({
		spec: dep.spec.template.spec,
		docs: opts.docs,
		replicas: dep.spec.replicas,
		namePrefix: dep.metadata.name,
		binary: env.SCHEMAGATE_BIN,
		image: IMAGE,
		imagePaths: opts.imagePaths,
		root: path.join(work, opts.tag),
		ipBase: opts.ipBase,
		log: opts.quiet ? () => {} : log,
		timeouts: opts.timeouts || TIMEOUTS,
		whileReady: opts.whileReady,
	});
}

// Drift the e2e must catch: each mutation of a good render must fail.
const MUTATIONS = [
	['readinessProbe on another port', (s) => (app(s).readinessProbe.httpGet.port += 1)],
	['readinessProbe on another path', (s) => (app(s).readinessProbe.httpGet.path = '/ready')],
	['readinessProbe by the sidecar port name', (s) => (app(s).readinessProbe.httpGet.port = 'schemagate')],
	['sidecar flag the binary does not know', (s) => (sidecar(s).args = sidecar(s).args.map((a) => a.replace('--listen=', '--listen-address=')))],
	['sidecar reads another folder than the ConfigMap mount', (s) => (mount(sidecar(s), 'schemagate-migrations').mountPath = '/srv/migrations')],
	['migrate gets DATABASE_URI instead of DATABASE_URL', (s) => (envOf(migrate(s), 'DATABASE_URL').name = 'DATABASE_URI')],
	['migrate mounts the migrations elsewhere', (s) => (mount(migrate(s), 'schemagate-migrations').mountPath = '/migrations.d')],
	['admin token file not mounted', (s) => (sidecar(s).volumeMounts = sidecar(s).volumeMounts.filter((m) => m.name !== 'schemagate-admin-token'))],
];
function app(s) {
	return s.containers.find((c) => !String(c.image).startsWith(IMAGE));
}
function sidecar(s) {
	return (s.initContainers || []).concat(s.containers).find((c) => c.name === 'schemagate');
}
function migrate(s) {
	return s.initContainers.find((c) => c.name === 'schemagate-migrate');
}
function mount(c, name) {
	const m = (c.volumeMounts || []).find((x) => x.name === name);
	if (!m)
		throw new Error(`container ${c.name} has no volumeMount ${name}`);
	return m;
}
function envOf(c, name) {
	const e = c.env.find((x) => x.name === name);
	if (!e)
		throw new Error(`container ${c.name} has no env ${name}`);
	return e;
}

async function negatives(tag, docs, negBase, port, token, latest) {
	const caught = [];
	for (const [i, [what, mutate]] of MUTATIONS.entries()) {
		const copy = JSON.parse(JSON.stringify(docs));
		const dep = deploymentOf(copy);
		dep.spec.replicas = 1;
		mutate(dep.spec.template.spec);
		let failedWith = null;
		try {
			await runDeployment({ tag: `${tag}-neg${i}`, docs: copy, ipBase: `${negBase}.${i + 1}`, timeouts: NEGATIVE_TIMEOUTS, quiet: true, whileReady: async (pods) => checkSidecars(pods, port, token, latest) });
		} catch (e) {
			failedWith = e.message.split('\n')[0];
		}
		if (!failedWith)
			throw new Error(`drift not detected: "${what}" still passed`);
		caught.push(`${what}: ${failedWith.slice(0, 140)}`);
	}
	return caught;
}

function portOfSidecar(docs) {
	const s = deploymentOf(docs).spec.template.spec;
	return sidecar(s).ports[0].containerPort;
}

// ---- scenarios ----

async function chartScenario(tag, extraSet, opts = {}) {
	const { db, dsn } = createDatabase(tag);
	try {
		const port = await freePort();
		const token = crypto.randomBytes(16).toString('hex');
		// opts.refs: every credential from its own Secret and key (as a
		// database operator's or a Redis chart's Secrets would hold them), REDIS_URL
		// as a plain value; the chart renders no Secret, the test adds those.
		const refSecrets = [
			{ apiVersion: 'v1', kind: 'Secret', metadata: { name: 'e2e-pg-app' }, stringData: { uri: dsn } },
			{ apiVersion: 'v1', kind: 'Secret', metadata: { name: 'e2e-pg-reader' }, stringData: { uri: dsn } },
			{ apiVersion: 'v1', kind: 'Secret', metadata: { name: 'e2e-admin' }, stringData: { token } },
		];
		// The read-only role's URL (here the same database user) for wait and serve.
		const credentials = opts.refs
			? { secret: { refs: { databaseUrl: { name: 'e2e-pg-app', key: 'uri' }, readerDatabaseUrl: { name: 'e2e-pg-reader', key: 'uri' }, adminToken: { name: 'e2e-admin', key: 'token' } } }, leader: { redisUrl: env.SCHEMAGATE_TEST_REDIS_URL } }
			: { secret: { databaseUrl: dsn, redisUrl: env.SCHEMAGATE_TEST_REDIS_URL, adminToken: token } };
		const secrets = writeSecretFile(`${tag}-secrets.yaml`, YAML.stringify(credentials));
		const migDir = path.join(repo, 'migrations');
		const files = fs.readdirSync(migDir);
		const versions = upVersions(files);
		const latest = versions[versions.length - 1];
		const docs = helmTemplate(path.join(repo, 'charts/schemagate'), 'e2e', [path.join(__dirname, 'values-chart.yaml'), secrets], ['--set', `sidecar.port=${port}`, ...migrationFileArgs(migDir), ...extraSet]);
		const ipBase = opts.ipBase;
		if (opts.refs) {
			assert(!docs.some((d) => d.kind === 'Secret'), 'no chart Secret when every credential is a reference');
			docs.push(...refSecrets);
		}
		if (opts.imagePaths)
			assert(!docs.some((d) => d.kind === 'ConfigMap'), 'no migrations ConfigMap with migrations.source=image');
		const ready = await runDeployment({
			tag,
			docs,
			replicas: 3,
			ipBase,
			imagePaths: opts.imagePaths,
			whileReady: async (pods) => {
				await checkSidecars(pods, port, token, latest);
				await checkNotesCommand(pods[0], docs, latest);
			},
		});
		const names = ready.pods.map((p) => p.name);
		const dbres = checkDatabase(db, 'mcp.schemagate_migrations', versions, names, ['mcp.tenants', 'mcp.api_keys']);
		let caught = [];
		if (opts.negatives)
			caught = await negatives(tag, docs, opts.negBase, port, token, latest);
		return { ready: ready.results, db: dbres, caught };
	} finally {
		dropDatabase(db);
	}
}

// migrations.mode=job: Helm runs the pre-install hook Job first (its
// ConfigMap and Secret are hooks too, with a lower weight), then the pods,
// whose init containers run `schemagate wait`.
async function jobScenario(tag, ipBase) {
	const { db, dsn } = createDatabase(tag);
	try {
		const port = await freePort();
		const token = crypto.randomBytes(16).toString('hex');
		const secrets = writeSecretFile(`${tag}-secrets.yaml`, YAML.stringify({ secret: { databaseUrl: dsn, redisUrl: env.SCHEMAGATE_TEST_REDIS_URL, adminToken: token } }));
		const migDir = path.join(repo, 'migrations');
		const versions = upVersions(fs.readdirSync(migDir));
		const latest = versions[versions.length - 1];
		const docs = helmTemplate(path.join(repo, 'charts/schemagate'), 'e2e', [path.join(__dirname, 'values-chart.yaml'), secrets], ['--set', `sidecar.port=${port}`, '--set', 'migrations.mode=job', ...migrationFileArgs(migDir)]);
		const errors = validateAll(docs);
		if (errors.length)
			throw new Error(`strict schema validation failed:\n  ${errors.join('\n  ')}`);
		const job = docs.find((d) => d.kind === 'Job');
		assert(job, 'a Job is rendered');
		const hook = (d) => (d.metadata.annotations || {})['helm.sh/hook'] || '';
		const weight = (d) => Number((d.metadata.annotations || {})['helm.sh/hook-weight'] || 0);
		assert(/pre-install/.test(hook(job)) && /pre-upgrade/.test(hook(job)), 'the Job is a pre-install,pre-upgrade hook');
		for (const d of docs.filter((x) => x.kind === 'ConfigMap' || x.kind === 'Secret'))
			assert(/pre-install/.test(hook(d)) && weight(d) < weight(job), `${d.kind} ${d.metadata.name} exists before the Job runs (hook with a lower weight)`);
		const dep = deploymentOf(docs);
		assert(dep.spec.template.spec.initContainers.every((c) => c.args[0] !== 'migrate'), 'pods do not migrate in job mode');
		const jobPod = await runJobPod({ spec: job.spec.template.spec, docs, namePrefix: job.metadata.name, binary: env.SCHEMAGATE_BIN, image: IMAGE, root: path.join(work, tag + '-job'), ip: `${ipBase}.9`, log, timeouts: TIMEOUTS });
		const ready = await runDeployment({ tag, docs, replicas: 3, ipBase, whileReady: async (pods) => checkSidecars(pods, port, token, latest) });
		const dbres = checkDatabase(db, 'mcp.schemagate_migrations', versions, [jobPod], ['mcp.tenants', 'mcp.api_keys']);
		return { ready: ready.results, db: dbres, caught: [] };
	} finally {
		dropDatabase(db);
	}
}

async function kustomizeScenario(tag, overlay, ipBase, negBase) {
	const { db, dsn } = createDatabase(tag);
	try {
		// A throwaway overlay on top of the real one: only the Secret's values
		// differ (they are what a user's secretGenerator or sealed secret gives).
		const dir = fs.mkdtempSync(path.join(repo, '.tmp', 'kustomize-e2e.'));
		const token = crypto.randomBytes(16).toString('hex');
		try {
			fs.writeFileSync(path.join(dir, 'secret.env'), `DATABASE_URL=${dsn}\nREADER_DATABASE_URL=${dsn}\nREDIS_URL=${env.SCHEMAGATE_TEST_REDIS_URL}\nadmin-token=${token}\n`, { mode: 0o600 });
			fs.writeFileSync(
				path.join(dir, 'kustomization.yaml'),
				YAML.stringify({
					apiVersion: 'kustomize.config.k8s.io/v1beta1',
					kind: 'Kustomization',
					resources: [path.relative(dir, path.join(repo, 'kustomize/overlays', overlay))],
					secretGenerator: [{ name: 'schemagate-db', behavior: 'replace', envs: ['secret.env'] }],
					replicas: [{ name: 'example-app', count: 3 }],
				})
			);
			const docs = parseDocs(run(env.KUBECTL, ['kustomize', dir]));
			const port = portOfSidecar(docs);
			const versions = upVersions(fs.readdirSync(path.join(repo, 'kustomize/base/migrations')));
			const latest = versions[versions.length - 1];
			const ready = await runDeployment({ tag, docs, replicas: 3, ipBase, whileReady: async (pods) => checkSidecars(pods, port, token, latest) });
			const names = ready.pods.map((p) => p.name);
			const dbres = checkDatabase(db, 'shop.schemagate_migrations', versions, names, ['shop.orders', 'shop.order_items']);
			const caught = await negatives(tag, docs, negBase, port, token, latest);
			return { ready: ready.results, db: dbres, caught };
		} finally {
			fs.rmSync(dir, { recursive: true, force: true });
		}
	} finally {
		dropDatabase(db);
	}
}

async function exampleAppScenario(tag, ipBase) {
	const { db, dsn } = createDatabase(tag);
	try {
		const port = await freePort();
		const token = crypto.randomBytes(16).toString('hex');
		const secrets = writeSecretFile(`${tag}-secrets.yaml`, YAML.stringify({ schemagate: { secret: { databaseUrl: dsn, redisUrl: env.SCHEMAGATE_TEST_REDIS_URL, adminToken: token } } }));
		const docs = helmTemplate(path.join(repo, 'charts/example-app'), 'ex', [path.join(__dirname, 'values-example-app.yaml'), secrets], ['--set', `schemagate.sidecar.port=${port}`]);
		const cm = docs.find((d) => d.kind === 'ConfigMap' && /migrations/.test(d.metadata.name));
		const versions = upVersions(Object.keys(cm.data));
		const latest = versions[versions.length - 1];
		const ready = await runDeployment({ tag, docs, replicas: 3, ipBase, whileReady: async (pods) => checkSidecars(pods, port, token, latest) });
		const names = ready.pods.map((p) => p.name);
		const dbres = checkDatabase(db, 'notes.schemagate_migrations', versions, names, ['notes.notes']);
		return { ready: ready.results, db: dbres, caught: [] };
	} finally {
		dropDatabase(db);
	}
}

const SCENARIOS = {
	// Pod IPs: 127.0.7x.1-3 for the 3 replicas, 127.1x.N.1 for mutation N.
	'chart-init-container': () => chartScenario('chart', [], { negatives: true, ipBase: '127.0.71', negBase: '127.11' }),
	'chart-native-sidecar': () => chartScenario('native', ['--set', 'sidecar.native=true'], { ipBase: '127.0.72' }),
	'chart-job-mode': () => jobScenario('job', '127.0.75'),
	// migrations.source=image: the derived image's `COPY migrations/ /migrations/`.
	'chart-image-source': () => chartScenario('image', ['--set', 'migrations.source=image'], { ipBase: '127.0.76', imagePaths: { '/migrations': path.join(repo, 'migrations') } }),
	// secret.refs.* and leader.redisUrl: one Secret and key per credential.
	'chart-secret-refs': () => chartScenario('refs', [], { refs: true, ipBase: '127.0.77' }),
	'kustomize-dev': () => kustomizeScenario('kustomize', 'dev', '127.0.73', '127.13'),
	'example-app': () => exampleAppScenario('example', '127.0.74'),
};

async function main() {
	const names = process.argv.slice(2).length ? process.argv.slice(2) : Object.keys(SCENARIOS);
	let passed = 0;
	let failed = 0;
	for (const name of names) {
		if (!SCENARIOS[name]) {
			console.error(`unknown scenario ${name}; known: ${Object.keys(SCENARIOS).join(' ')}`);
			fs.rmSync(work, { recursive: true, force: true });
			process.exit(2);
		}
		const t0 = Date.now();
		try {
			const r = await SCENARIOS[name]();
			const ms = Date.now() - t0;
			log(`PASS ${name} (${ms} ms)`);
			for (const x of r.ready)
				log(`  pod ${x.pod} on ${x.ip}: init done at ${x.initMs} ms, ready at ${x.readyMs} ms`);
			log(`  database: ${r.db.applied} migrations applied by ${r.db.appliers.join(',')}; ${r.db.runIdentities} pod identities in the runs table`);
			for (const c of r.caught)
				log(`  drift caught: ${c}`);
			passed++;
		} catch (e) {
			log(`FAIL ${name} (${Date.now() - t0} ms): ${e instanceof PodError ? 'pod: ' : ''}${e.message}`);
			failed++;
		}
	}
	if (!env.SG_E2E_KEEP)
		fs.rmSync(work, { recursive: true, force: true });
	else
		log(`kept ${work}`);
	console.log(`${passed} passed, ${failed} failed`);
	process.exit(failed ? 1 : 0);
}

main();
