'use strict';
// prometheus.js - the chart's alerts and dashboard on a real Prometheus that scrapes real sidecars.
//
// Usage: node tests/alerts/prometheus.js   (ci/checks.d/35-alerts.sh runs it)
// Needs NODE_PATH (ci/e2e-node.sh), HELM (ci/helm.sh), SCHEMAGATE_BIN, SCHEMAGATE_TEST_PG_DSN
// and SG_ALERTS_TMP (a folder it may write to); PROMETHEUS and PROMTOOL default to Debian's.
//
// 1. Renders charts/schemagate with charts/schemagate/ci/alerts-values.yaml (release sg,
//    namespace ci: every alert's `for` is 5s), checks the rules with promtool and takes the
//    dashboard's JSON from its ConfigMap.
// 2. Migrates a fresh database with the repository's migrations and starts two
//    `schemagate serve` sidecars on it, labelled as two pods of that release.
// 3. Starts Prometheus on a free loopback port (its own config and storage in SG_ALERTS_TMP;
//    scrape and evaluation every second) with the rendered rules.
// 4. Healthy: once both targets are up and the rules have run for longer than every `for` plus
//    two evaluation intervals, no alert is firing or pending, nor was one at any evaluation
//    (ALERTS has no sample); every expr of the dashboard (and its variables' label queries)
//    returns data.
// 5. A no-transaction migration fails part-way and leaves its row dirty: SchemagateMigrationFailed
//    must be firing (read through /api/v1/alerts), and Prometheus's own timestamps must show it
//    fired within its `for` plus two evaluation intervals of the first moment its condition held
//    in the scraped data (a range query of the rule's expr, 100 ms steps).
// Every wait is for a condition, bounded generously; nothing assumes the machine's speed.

const fs = require('fs');
const net = require('net');
const path = require('path');
const { spawn, spawnSync } = require('child_process');
const YAML = require('yaml');

const root = path.resolve(__dirname, '..', '..');
const { HELM, SCHEMAGATE_BIN: BIN, SCHEMAGATE_TEST_PG_DSN: PG_DSN, SG_ALERTS_TMP: TMP } = process.env;
const PROMETHEUS = process.env.PROMETHEUS || '/usr/bin/prometheus';
const PROMTOOL = process.env.PROMTOOL || '/usr/bin/promtool';
for (const [k, v] of Object.entries({ HELM, SCHEMAGATE_BIN: BIN, SCHEMAGATE_TEST_PG_DSN: PG_DSN, SG_ALERTS_TMP: TMP }))
	if (!v) {
		console.error(`prometheus.js: ${k} must be set (ci/checks.d/35-alerts.sh sets it)`);
		process.exit(2);
	}

const NAMESPACE = 'ci';
const JOB = 'schemagate';
const PODS = ['sg-schemagate-5f7c9d-a1b2c', 'sg-schemagate-5f7c9d-d3e4f'];
const EVAL_S = 1; // Prometheus's scrape and evaluation interval
const FOR_S = 5; // every alert's `for` in alerts-values.yaml
const BOUND_MS = 120000; // the longest any condition is waited for

const log = (msg) => console.error(`prometheus.js: ${msg}`);
const children = [];
let failures = 0;
function fail(msg) {
	log(`FAIL: ${msg}`);
	failures++;
}
function die(msg) {
	log(`error: ${msg}`);
	process.exit(1);
}
process.on('exit', () => {
	for (const c of children)
		if (c.exitCode === null && c.signalCode === null)
			c.kill('SIGKILL');
});
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

function run(cmd, args, opts = {}) {
	const r = spawnSync(cmd, args, { encoding: 'utf8', maxBuffer: 64 << 20, ...opts });
	return { code: r.status, out: r.stdout || '', err: r.stderr || '' };
}
function freePort() {
	return new Promise((resolve, reject) => {
		const s = net.createServer();
		s.on('error', reject);
		s.listen(0, '127.0.0.1', () => {
			const { port } = s.address();
			s.close(() => resolve(port));
		});
	});
}
// Polls fn (async; a truthy result ends the wait) every 200 ms for at most BOUND_MS.
async function until(what, fn) {
	const t0 = Date.now();
	let last;
	while (Date.now() - t0 < BOUND_MS) {
		try {
			last = await fn();
			if (last)
				return last;
		} catch (e) {
			last = e.message;
		}
		await sleep(200);
	}
	die(`timed out after ${BOUND_MS / 1000} s waiting for ${what}${last ? ` (last: ${JSON.stringify(last).slice(0, 300)})` : ''}`);
}
function start(name, cmd, args, env) {
	const out = fs.openSync(path.join(TMP, `${name}.log`), 'w');
	const c = spawn(cmd, args, { env, stdio: ['ignore', out, out] });
	children.push(c);
	c.on('exit', (code, sig) => {
		if (!stopping)
			log(`${name} exited (${code ?? sig}); its log: ${path.join(TMP, `${name}.log`)}`);
	});
	return c;
}
let stopping = false;

// ---- 1. the rendered rules and dashboard ----------------------------------
const rendered = run(HELM, ['template', 'sg', path.join(root, 'charts/schemagate'), '--namespace', NAMESPACE, '-f', path.join(root, 'charts/schemagate/ci/alerts-values.yaml'), '--show-only', 'templates/monitoring.yaml']);
if (rendered.code !== 0)
	die(`helm template failed: ${rendered.err}`);
const docs = YAML.parseAllDocuments(rendered.out).map((d) => d.toJS()).filter(Boolean);
const rule = docs.find((d) => d.kind === 'PrometheusRule');
const dashboardMap = docs.find((d) => d.kind === 'ConfigMap' && d.metadata.labels && d.metadata.labels.grafana_dashboard === '1');
if (!rule || !dashboardMap)
	die('the render has no PrometheusRule or no dashboard ConfigMap');
const rulesFile = path.join(TMP, 'rules.yaml');
fs.writeFileSync(rulesFile, YAML.stringify({ groups: rule.spec.groups }));
const check = run(PROMTOOL, ['check', 'rules', rulesFile]);
if (check.code !== 0)
	die(`promtool check rules: ${check.out}${check.err}`);
const alertRules = rule.spec.groups.flatMap((g) => g.rules);
const failedRule = alertRules.find((r) => r.alert === 'SchemagateMigrationFailed');
if (!failedRule || failedRule.for !== `${FOR_S}s`)
	die(`SchemagateMigrationFailed missing or not for ${FOR_S}s in the render`);
const dashboard = JSON.parse(dashboardMap.data['schemagate.json']);
const exprs = dashboard.panels.flatMap((p) => (p.targets || []).map((t) => ({ panel: p.title, expr: t.expr })));
log(`rendered ${alertRules.length} alerts (promtool check rules: ok) and a dashboard with ${exprs.length} queries`);

(async () => {
	// ---- 2. a database and two sidecars ----------------------------------
	const dbName = `sg_alerts_${process.pid}`;
	const dsn = new URL(PG_DSN);
	const r = run('psql', [PG_DSN, '-qXc', `CREATE DATABASE ${dbName}`]);
	if (r.code !== 0)
		die(`CREATE DATABASE: ${r.err}`);
	process.on('exit', () => run('psql', [PG_DSN, '-qXc', `DROP DATABASE IF EXISTS ${dbName} WITH (FORCE)`]));
	dsn.pathname = `/${dbName}`;
	const env = { PATH: process.env.PATH, DATABASE_URL: dsn.toString(), DATABASE_SEARCH_PATH: 'mcp,public', SCHEMAGATE_LOG_FORMAT: 'text' };
	const good = path.join(TMP, 'migrations');
	const broken = path.join(TMP, 'migrations-broken');
	fs.cpSync(path.join(root, 'migrations'), good, { recursive: true });
	fs.cpSync(good, broken, { recursive: true });
	const head = Math.max(...fs.readdirSync(good).filter((f) => f.endsWith('.up.sql')).map((f) => parseInt(f, 10)));
	const bad = head + 1;
	// Its first statement commits, the second fails: the history row stays dirty.
	fs.writeFileSync(path.join(broken, `${String(bad).padStart(6, '0')}_left_dirty.up.sql`), '-- schemagate:no-transaction\nCREATE TABLE mcp.alerts_probe (id int);\nSELECT schemagate_no_such_function();\n');
	const m = run(BIN, ['migrate', '--dir', good], { env, timeout: BOUND_MS });
	if (m.code !== 0)
		die(`migrate of ${good} exited ${m.code}: ${m.err}`);
	const ports = [await freePort(), await freePort()];
	PODS.forEach((pod, i) => start(pod, BIN, ['serve', '--dir', good, '--listen', `127.0.0.1:${ports[i]}`, '--check-interval', '1s', '--identity', pod], env));
	for (const p of ports)
		await until(`the sidecar on ${p} to be ready`, async () => (await fetch(`http://127.0.0.1:${p}/readyz`)).status === 200);

	// ---- 3. Prometheus -----------------------------------------------------
	const promPort = await freePort();
	const config = {
		global: { scrape_interval: `${EVAL_S}s`, scrape_timeout: `${EVAL_S}s`, evaluation_interval: `${EVAL_S}s` },
		rule_files: [rulesFile],
		scrape_configs: [{ job_name: JOB, static_configs: PODS.map((pod, i) => ({ targets: [`127.0.0.1:${ports[i]}`], labels: { namespace: NAMESPACE, pod } })) }],
	};
	fs.writeFileSync(path.join(TMP, 'prometheus.yml'), YAML.stringify(config));
	const t0 = Date.now();
	start('prometheus', PROMETHEUS, [`--config.file=${path.join(TMP, 'prometheus.yml')}`, `--storage.tsdb.path=${path.join(TMP, 'data')}`, `--web.listen-address=127.0.0.1:${promPort}`, '--log.level=warn'], { PATH: process.env.PATH });
	const api = async (p, params = {}) => {
		const res = await fetch(`http://127.0.0.1:${promPort}/api/v1/${p}?${new URLSearchParams(params)}`);
		const body = await res.json();
		if (body.status !== 'success')
			throw new Error(`${p}: ${body.error}`);
		return body.data;
	};
	const query = (q, time) => api('query', time === undefined ? { query: q } : { query: q, time });
	await until('Prometheus to be ready', async () => (await fetch(`http://127.0.0.1:${promPort}/-/ready`)).status === 200);
	await until('the rules to load', async () => (await api('rules')).groups.flatMap((g) => g.rules).length === alertRules.length);
	await until('both sidecars to be scraped', async () => (await query(`count(up{job="${JOB}"} == 1)`)).result.map((s) => s.value[1])[0] === String(PODS.length));
	// Prometheus's own clock from here on: a scrape by which both targets were up.
	const bothUp = Number((await query(`max(timestamp(up{job="${JOB}"}))`)).result[0].value[1]);
	log(`Prometheus ready and scraping both sidecars ${((Date.now() - t0) / 1000).toFixed(1)} s after its start`);

	// ---- 4. healthy ----------------------------------------------------------
	const quiet = FOR_S + 2 * EVAL_S + 3;
	await until(`${quiet} s of rule evaluations`, async () => {
		const g = (await api('rules')).groups;
		return g.every((x) => Date.parse(x.lastEvaluation) / 1000 >= bothUp + quiet);
	});
	const active = (await api('alerts')).alerts;
	if (active.length)
		fail(`healthy, but alerts are active: ${active.map((a) => `${a.labels.alertname} (${a.state})`).join(', ')}`);
	const ever = await query(`count_over_time(ALERTS[${Math.ceil(quiet + 5)}s])`);
	if (ever.result.length)
		fail(`healthy, but ALERTS has samples: ${ever.result.map((s) => `${s.metric.alertname} ${s.metric.alertstate}`).join(', ')}`);
	else if (!active.length)
		log(`healthy: no alert firing or pending over ${quiet} s of evaluations`);

	const vars = { $namespace: NAMESPACE, $job: JOB, $__rate_interval: '15s' };
	const subst = (e) => e.replace(/\$__rate_interval|\$namespace|\$job/g, (v) => vars[v]);
	for (const { panel, expr } of exprs) {
		const q = subst(expr);
		const res = await query(q);
		const values = res.result.map((s) => s.value[1]);
		if (!values.length)
			fail(`dashboard "${panel}": no data for ${q}`);
		else if (values.some((v) => !Number.isFinite(Number(v))))
			fail(`dashboard "${panel}": ${q} returned ${values.join(', ')}`);
	}
	for (const v of dashboard.templating.list.filter((x) => x.type === 'query')) {
		const m2 = /^label_values\((.*), *([a-z_]+)\)$/.exec(v.query);
		const want = { namespace: NAMESPACE, job: JOB }[v.name];
		const got = m2 ? await api(`label/${m2[2]}/values`, { 'match[]': subst(m2[1]) }) : [];
		if (!got.includes(want))
			fail(`dashboard variable ${v.name} (${v.query}) does not offer ${want}: ${JSON.stringify(got)}`);
	}
	log(`dashboard: ${exprs.length} queries and ${dashboard.templating.list.length - 1} variables checked`);

	// ---- 5. a migration left dirty ----------------------------------------
	const tMigrate = Date.now() / 1000;
	const b = run(BIN, ['migrate', '--dir', broken], { env, timeout: BOUND_MS });
	if (b.code !== 1 || !/schemagate_no_such_function/.test(b.err))
		die(`the broken migrate exited ${b.code}, expected 1 naming the function: ${b.err}`);
	const dirty = run('psql', [dsn.toString(), '-qXAtc', `SELECT dirty FROM mcp.schemagate_migrations WHERE version = ${bad}`]);
	if (dirty.out.trim() !== 't')
		die(`version ${bad} is not dirty after the failed migrate: ${dirty.out}${dirty.err}`);
	const firing = await until('SchemagateMigrationFailed to fire', async () => (await api('alerts')).alerts.find((a) => a.labels.alertname === 'SchemagateMigrationFailed' && a.state === 'firing'));
	log(`SchemagateMigrationFailed firing ${(Date.now() / 1000 - tMigrate).toFixed(1)} s after the failed migrate exited: ${firing.annotations.description}`);
	if (firing.labels.severity !== 'critical' || firing.labels.team !== 'ci' || firing.labels.namespace !== NAMESPACE)
		fail(`labels ${JSON.stringify(firing.labels)}`);
	if (!firing.annotations.description.includes(`at version ${bad} (dirty: 1`))
		fail(`the description does not name version ${bad} and the dirty flag: ${firing.annotations.description}`);
	// When it fired, by Prometheus's clock: its first firing sample in ALERTS.
	const fired = await query(`ALERTS{alertname="SchemagateMigrationFailed", alertstate="firing"}[2m]`);
	const tFired = Math.min(...fired.result.flatMap((s) => s.values.map((v) => v[0])));
	// When the condition first held in the scraped data: the rule's own expr, every 100 ms.
	const range = await api('query_range', { query: failedRule.expr, start: String(tMigrate - 5), end: String(tFired), step: '0.1' });
	const held = range.result.flatMap((s) => s.values.map((v) => v[0]));
	if (!held.length)
		die(`the rule's expr never held between the migrate and the firing`);
	const tHeld = Math.min(...held);
	const lag = tFired - tHeld;
	const limit = FOR_S + 2 * EVAL_S;
	log(`condition held in the data at +${(tHeld - tMigrate).toFixed(1)} s, firing at +${(tFired - tMigrate).toFixed(1)} s: ${lag.toFixed(2)} s (limit: for ${FOR_S} s + 2 evaluation intervals = ${limit} s)`);
	if (lag > limit + 0.1) // + one step of the range query
		fail(`fired ${lag.toFixed(2)} s after its condition held, more than ${limit} s`);

	stopping = true;
	log(failures ? `${failures} failure(s)` : `all checks passed in ${((Date.now() - t0) / 1000).toFixed(1)} s after Prometheus started`);
	process.exit(failures ? 1 : 0);
})().catch((e) => die(e.stack || e.message));
