'use strict';
// chart-cases.js - render-time checks of the charts and overlays, one per defect found and per feature.
//
// Usage: node tests/e2e/chart-cases.js [ROOT]   (ROOT: the repository, default ../..)
// Needs NODE_PATH (ci/e2e-node.sh), HELM and KUBECTL (ci/helm.sh). Each case
// renders with helm template or kubectl kustomize and asserts on the parsed
// manifests; every render that should succeed also passes the strict API
// schema (validate.js). Prints "ok"/"FAIL" per case and "N passed, N failed".

const fs = require('fs');
const os = require('os');
const path = require('path');
const { spawnSync } = require('child_process');
const YAML = require('yaml');
const { validateAll } = require('./validate');

const root = path.resolve(process.argv[2] || path.join(__dirname, '..', '..'));
const { HELM, KUBECTL } = process.env;
if (!HELM || !KUBECTL) {
	console.error('chart-cases.js: HELM and KUBECTL must be set (ci/checks.d/30-charts.sh sets them)');
	process.exit(2);
}
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'sg-chart-cases.'));
const CHART = path.join(root, 'charts/schemagate');
const EXAMPLE = path.join(root, 'charts/example-app');
const BASE = ['--set', 'secret.databaseUrl=postgres://app@db/app', '--set', 'secret.adminToken=t', '--set-string', 'migrations.files.000001_a\\.up\\.sql=select 1'];

function sh(cmd, args, opts = {}) {
	const r = spawnSync(cmd, args, { encoding: 'utf8', maxBuffer: 64 << 20, ...opts });
	return { code: r.status, out: r.stdout || '', err: r.stderr || '' };
}
function parse(text) {
	return YAML.parseAllDocuments(text).map((d) => d.toJS()).filter((d) => d && typeof d === 'object');
}
function assert(cond, msg) {
	if (!cond)
		throw new Error(msg);
}
// helm template that must succeed; the manifests are validated strictly.
function render(chart, args, opts = {}) {
	const r = sh(HELM, ['template', 'sg', chart, ...args]);
	assert(r.code === 0, `helm template ${args.join(' ')} failed: ${r.err.trim().split('\n').filter((l) => !/^walk\.go|--debug/.test(l)).pop()}`);
	const docs = parse(r.out);
	const errors = validateAll(docs);
	assert(!errors.length || opts.noValidate, `strict validation: ${errors.slice(0, 3).join('; ')}`);
	return docs;
}
// helm template that must fail with a message containing `expect`.
function refuse(chart, args, expect) {
	const r = sh(HELM, ['template', 'sg', chart, ...args]);
	assert(r.code !== 0, `helm template ${args.join(' ')} rendered; expected a failure with "${expect}"`);
	assert(r.err.includes(expect), `failed, but without "${expect}": ${r.err.trim().split('\n').pop()}`);
}
function valuesFile(name, obj) {
	const f = path.join(tmp, name);
	fs.writeFileSync(f, YAML.stringify(obj));
	return f;
}
const one = (docs, kind, pred = () => true) => {
	const ds = docs.filter((d) => d.kind === kind && pred(d));
	assert(ds.length === 1, `expected one ${kind}, found ${ds.length}`);
	return ds[0];
};
const podOf = (d) => d.spec.template.spec;
const annotationsOf = (d) => d.spec.template.metadata.annotations || {};
function copyChart(src, name) {
	const dst = path.join(tmp, name);
	fs.cpSync(src, dst, { recursive: true, dereference: true });
	return dst;
}
// NOTES.txt through tpl, as 30-charts.sh renders it.
function notes(args) {
	const c = copyChart(CHART, `notes-${Math.random().toString(36).slice(2, 8)}`);
	fs.renameSync(path.join(c, 'templates/NOTES.txt'), path.join(c, 'notes-src.txt'));
	fs.writeFileSync(path.join(c, 'templates/notes-check.yaml'), 'notes: {{ tpl (.Files.Get "notes-src.txt") . | toJson }}\n');
	const r = sh(HELM, ['template', 'sg', c, ...args, '--show-only', 'templates/notes-check.yaml']);
	assert(r.code === 0, `NOTES do not render: ${r.err.trim().split('\n').pop()}`);
	return YAML.parse(r.out).notes;
}

const CASES = [
	['1: the prod overlay renders no Secret (a secret manager owns schemagate-db); dev keeps its demo Secret', () => {
		const prod = parse(sh(KUBECTL, ['kustomize', path.join(root, 'kustomize/overlays/prod')]).out);
		assert(prod.length > 0, 'prod overlay renders');
		assert(!prod.some((d) => d.kind === 'Secret'), `prod renders Secret(s) ${prod.filter((d) => d.kind === 'Secret').map((d) => d.metadata.name)}`);
		const dev = parse(sh(KUBECTL, ['kustomize', path.join(root, 'kustomize/overlays/dev')]).out);
		assert(dev.some((d) => d.kind === 'Secret' && d.metadata.name.startsWith('schemagate-db')), 'dev has the demo Secret');
	}],
	['2: the migrate Job\'s pod gets the Deployment\'s pod settings', () => {
		const f = valuesFile('pod.yaml', {
			migrations: { mode: 'job', job: { podAnnotations: { 'sidecar.istio.io/inject': 'false' } } },
			imagePullSecrets: [{ name: 'regcred' }],
			serviceAccount: { create: true, name: 'wi-sa' },
			nodeSelector: { pool: 'db' },
			tolerations: [{ key: 'dedicated', operator: 'Equal', value: 'db', effect: 'NoSchedule' }],
			affinity: { nodeAffinity: { requiredDuringSchedulingIgnoredDuringExecution: { nodeSelectorTerms: [{ matchExpressions: [{ key: 'zone', operator: 'In', values: ['a'] }] }] } } },
			podAnnotations: { 'example.com/team': 'db' },
			priorityClassName: 'high',
		});
		const docs = render(CHART, [...BASE, '-f', f]);
		const job = podOf(one(docs, 'Job'));
		const dep = podOf(one(docs, 'Deployment'));
		for (const k of ['imagePullSecrets', 'serviceAccountName', 'nodeSelector', 'tolerations', 'affinity', 'priorityClassName'])
			assert(JSON.stringify(job[k]) === JSON.stringify(dep[k]) && job[k] !== undefined, `Job pod ${k} ${JSON.stringify(job[k])} == Deployment's ${JSON.stringify(dep[k])}`);
		const ja = one(docs, 'Job').spec.template.metadata.annotations || {};
		assert(ja['example.com/team'] === 'db', 'Job pod has the pod annotations');
		assert(ja['sidecar.istio.io/inject'] === 'false', 'Job pod has migrations.job.podAnnotations');
		assert(!('sidecar.istio.io/inject' in annotationsOf(one(docs, 'Deployment'))), 'job.podAnnotations stay off the Deployment');
		// Helm creates hooks before ordinary objects: the account the Job runs as must be one, earlier.
		const sa = one(docs, 'ServiceAccount').metadata.annotations || {};
		assert(/pre-install/.test(sa['helm.sh/hook'] || '') && Number(sa['helm.sh/hook-weight']) < 0, `the ServiceAccount exists before the Job: ${JSON.stringify(sa)}`);
	}],
	['3: job mode: lock.timeout < activeDeadlineSeconds < helm\'s default 5m, and a lock.timeout past the deadline is refused', () => {
		const docs = render(CHART, [...BASE, '--set', 'migrations.mode=job']);
		const job = one(docs, 'Job');
		const lock = job.spec.template.spec.containers[0].args.find((a) => a.startsWith('--lock-timeout=')).split('=')[1];
		const ms = [...lock.matchAll(/([0-9]+)(ms|h|m|s)/g)].reduce((t, m) => t + Number(m[1]) * { ms: 1, s: 1e3, m: 6e4, h: 36e5 }[m[2]], 0);
		const deadline = job.spec.activeDeadlineSeconds * 1000;
		assert(ms < deadline && deadline < 300000, `lock.timeout ${lock} < activeDeadlineSeconds ${job.spec.activeDeadlineSeconds}s < 300s`);
		refuse(CHART, [...BASE, '--set', 'migrations.mode=job', '--set', 'lock.timeout=10m'], 'must be shorter than migrations.job.activeDeadlineSeconds');
	}],
	['4: NOTES in job mode do not send the user to the deleted hook Job', () => {
		const n = notes([...BASE, '--set', 'migrations.mode=job']);
		assert(!/kubectl logs[^\n]*job\//.test(n), `NOTES print kubectl logs job/...:\n${n}`);
		assert(/schemagate status/.test(n) && /deleted once it succeeds/.test(n), 'NOTES say where the result is');
	}],
	['5: changing only the migrations rolls the pods (example-app, existingConfigMap, files)', () => {
		const ex = copyChart(EXAMPLE, 'example-roll');
		const exArgs = ['--set', 'schemagate.secret.existingSecret=db'];
		const before = annotationsOf(one(render(ex, exArgs), 'Deployment'));
		fs.writeFileSync(path.join(ex, 'migrations/000002_more.up.sql'), 'ALTER TABLE notes.notes ADD COLUMN x int;');
		const after = annotationsOf(one(render(ex, exArgs), 'Deployment'));
		assert(before['checksum/schemagate'] && before['checksum/schemagate'] !== after['checksum/schemagate'], `example-app pod annotations change with a new migration: ${JSON.stringify(before)} vs ${JSON.stringify(after)}`);
		const ecm = ['--set', 'secret.existingSecret=db', '--set', 'migrations.existingConfigMap=mig'];
		const a1 = annotationsOf(one(render(CHART, [...ecm, '--set', 'migrations.revision=r1']), 'Deployment'));
		const a2 = annotationsOf(one(render(CHART, [...ecm, '--set', 'migrations.revision=r2']), 'Deployment'));
		assert(a1['checksum/schemagate'] !== a2['checksum/schemagate'], 'existingConfigMap: migrations.revision rolls the pods');
		const f1 = annotationsOf(one(render(CHART, BASE), 'Deployment'));
		const f2 = annotationsOf(one(render(CHART, [...BASE, '--set-string', 'migrations.files.000002_b\\.up\\.sql=select 2']), 'Deployment'));
		assert(f1['checksum/schemagate'] !== f2['checksum/schemagate'], 'files: a new file rolls the pods');
	}],
	['6: the library: a minimal block renders with defaults; an unknown key fails naming its path; false overrides a true default', () => {
		const ex = copyChart(EXAMPLE, 'example-min');
		fs.writeFileSync(path.join(ex, 'values.yaml'), YAML.stringify({ replicaCount: 1, image: { repository: 'app', tag: '1' }, port: 8080, schemagate: { secret: { existingSecret: 'db' } } }));
		const docs = render(ex, []);
		const dep = one(docs, 'Deployment');
		assert(podOf(dep).securityContext.runAsUser === 65532, 'defaults fill securityContext');
		refuse(ex, ['--set', 'schemagate.sidecar.nativ=true'], 'schemagate.sidecar.nativ');
		refuse(ex, ['--set', 'schemagate.sidecar.admin=yes'], 'schemagate.sidecar.admin must be a map');
		const noAdmin = render(ex, ['--set', 'schemagate.sidecar.admin.enabled=false']);
		const sc = podOf(one(noAdmin, 'Deployment')).containers.find((c) => c.name === 'schemagate');
		assert(!sc.args.some((a) => a.startsWith('--admin-token-file')), 'sidecar.admin.enabled=false is honoured');
	}],
	['6: the library defaults equal charts/schemagate/values.yaml for the keys both have', () => {
		const lib = fs.readFileSync(path.join(root, 'charts/schemagate-lib/templates/_values.tpl'), 'utf8');
		const m = /\{\{- define "schemagate.defaults" -\}\}\n([\s\S]*?)\{\{- end \}\}/.exec(lib);
		assert(m, 'schemagate.defaults found');
		const defaults = YAML.parse(m[1]);
		const values = YAML.parse(fs.readFileSync(path.join(CHART, 'values.yaml'), 'utf8'));
		const libOnly = ['sidecar.readinessProbeOn'];
		(function cmp(d, v, p) {
			for (const [k, dv] of Object.entries(d)) {
				const q = p ? `${p}.${k}` : k;
				if (libOnly.includes(q))
					continue;
				assert(v && k in v, `charts/schemagate/values.yaml lacks ${q}`);
				if (dv && typeof dv === 'object' && !Array.isArray(dv) && Object.keys(dv).length)
					cmp(dv, v[k], q);
				else
					assert(JSON.stringify(dv) === JSON.stringify(v[k]), `${q}: library default ${JSON.stringify(dv)} != chart default ${JSON.stringify(v[k])}`);
			}
		})(defaults, values, '');
	}],
	['7: migrations over the 1 MiB object limit are refused at render; copy and imageVolume sources render', () => {
		const big = path.join(tmp, 'big.sql');
		fs.writeFileSync(big, `-- ${'x'.repeat(1200 * 1000)}\nselect 1;\n`);
		refuse(CHART, ['--set', 'secret.databaseUrl=x', '--set', 'secret.adminToken=t', '--set-file', `migrations.files.000001_big\\.up\\.sql=${big}`], '1 MiB (1048576 bytes)');
		const copy = render(CHART, ['--set', 'secret.existingSecret=db', '--set', 'migrations.source=copy', '--set', 'migrations.fromImage.path=/app/migrations']);
		const spec = podOf(one(copy, 'Deployment'));
		const cp = spec.initContainers[0];
		assert(cp.name === 'schemagate-copy-migrations' && cp.image === 'nginxinc/nginx-unprivileged:1.27-alpine', `first init container copies from the app image: ${cp.name} ${cp.image}`);
		assert(JSON.stringify(cp.command) === JSON.stringify(['cp', '-R', '/app/migrations/.', '/migrations/']), `copy command ${cp.command}`);
		assert(spec.volumes.find((v) => v.name === 'schemagate-migrations').emptyDir, 'migrations in an emptyDir');
		assert(!copy.some((d) => d.kind === 'ConfigMap'), 'no ConfigMap with source copy');
		const iv = ['--set', 'secret.existingSecret=db', '--set', 'migrations.source=imageVolume', '--set', 'migrations.fromImage.repository=registry.example.com/app-migrations', '--set-string', 'migrations.fromImage.tag=7'];
		const ivDocs = render(CHART, [...iv, '--kube-version', '1.33.0']);
		const vol = podOf(one(ivDocs, 'Deployment')).volumes.find((v) => v.name === 'schemagate-migrations');
		assert(vol.image && vol.image.reference === 'registry.example.com/app-migrations:7', `image volume ${JSON.stringify(vol)}`);
		refuse(CHART, [...iv, '--kube-version', '1.32.0'], 'needs Kubernetes 1.33');
		const job = render(CHART, ['--set', 'secret.existingSecret=db', '--set', 'migrations.source=copy', '--set', 'migrations.mode=job']);
		assert(podOf(one(job, 'Job')).initContainers[0].name === 'schemagate-copy-migrations', 'the Job copies too');
	}],
	['8: a LoadBalancer Service does not publish the sidecar; service.annotations', () => {
		const docs = render(CHART, [...BASE, '--set', 'service.type=LoadBalancer', '--set', 'service.annotations.a=b']);
		const svc = one(docs, 'Service', (d) => d.spec.type === 'LoadBalancer');
		assert(svc.spec.ports.every((p) => p.port !== 8081 && p.targetPort !== 8081), `LoadBalancer ports ${JSON.stringify(svc.spec.ports)}`);
		assert(svc.metadata.annotations && svc.metadata.annotations.a === 'b', 'service.annotations');
		const internal = one(docs, 'Service', (d) => d.spec.type === 'ClusterIP');
		assert(internal.spec.ports[0].port === 8081, 'the sidecar port is on a ClusterIP Service');
	}],
	['9: one name label (and a version label) on every object; no -schemagate-schemagate name', () => {
		const sets = [BASE, [...BASE, '--set', 'migrations.mode=job'], [...BASE, '--set', 'podDisruptionBudget.enabled=true', '--set', 'networkPolicy.enabled=true', '--set', 'metrics.serviceMonitor.enabled=true', '--set', 'metrics.podMonitor.enabled=true']];
		for (const args of sets) {
			for (const d of render(CHART, args)) {
				const l = d.metadata.labels || {};
				assert(l['app.kubernetes.io/name'] === 'schemagate', `${d.kind} ${d.metadata.name}: name label ${l['app.kubernetes.io/name']}`);
				assert(l['app.kubernetes.io/version'], `${d.kind} ${d.metadata.name} has a version label`);
				assert(!/schemagate-schemagate/.test(d.metadata.name), `${d.kind} ${d.metadata.name}`);
				if (d.spec && d.spec.template)
					assert(d.spec.template.metadata.labels['app.kubernetes.io/name'] === 'schemagate', `${d.kind} pod template name label`);
			}
		}
		for (const d of render(EXAMPLE, ['--set', 'schemagate.secret.databaseUrl=x', '--set', 'schemagate.secret.adminToken=t']))
			assert((d.metadata.labels || {})['app.kubernetes.io/name'] === 'example-app' && d.metadata.labels['app.kubernetes.io/version'], `example-app ${d.kind} ${d.metadata.name}: labels ${JSON.stringify(d.metadata.labels)}`);
	}],
	['9: the Service and the PodDisruptionBudget do not select the migrate Job\'s pod', () => {
		const docs = render(CHART, [...BASE, '--set', 'migrations.mode=job', '--set', 'podDisruptionBudget.enabled=true']);
		const jobLabels = one(docs, 'Job').spec.template.metadata.labels;
		const matches = (sel) => Object.entries(sel).every(([k, v]) => jobLabels[k] === v);
		for (const s of docs.filter((d) => d.kind === 'Service'))
			assert(!matches(s.spec.selector), `Service ${s.metadata.name} selects the Job's pod`);
		assert(!matches(one(docs, 'PodDisruptionBudget').spec.selector.matchLabels), 'the PDB selects the Job\'s pod');
	}],
	['10: PodDisruptionBudget: maxUnavailable, a warning when it blocks drains', () => {
		const pdb = one(render(CHART, [...BASE, '--set', 'podDisruptionBudget.enabled=true', '--set', 'podDisruptionBudget.minAvailable=', '--set', 'podDisruptionBudget.maxUnavailable=1']), 'PodDisruptionBudget');
		assert(pdb.spec.maxUnavailable === 1 && !('minAvailable' in pdb.spec), `maxUnavailable ${JSON.stringify(pdb.spec)}`);
		refuse(CHART, [...BASE, '--set', 'podDisruptionBudget.enabled=true', '--set', 'podDisruptionBudget.maxUnavailable=1'], 'not both');
		const n = notes([...BASE, '--set', 'replicaCount=1', '--set', 'podDisruptionBudget.enabled=true']);
		assert(/WARNING: the PodDisruptionBudget allows no voluntary disruption/.test(n), `no drain warning in NOTES:\n${n}`);
		assert(!/PodDisruptionBudget allows no/.test(notes([...BASE, '--set', 'podDisruptionBudget.enabled=true'])), 'no warning with 2 replicas and minAvailable 1');
	}],
	['11: helm dependency build leaves one library in charts/, Chart.lock is committed; docs point at real things', () => {
		for (const c of ['schemagate', 'example-app']) {
			const dir = copyChart(path.join(root, 'charts'), `deps-${c}`);
			const chart = path.join(dir, c);
			fs.rmSync(path.join(chart, 'charts'), { recursive: true, force: true });
			assert(fs.existsSync(path.join(root, 'charts', c, 'Chart.lock')), `charts/${c}/Chart.lock exists`);
			const r = sh(HELM, ['dependency', 'build', chart]);
			assert(r.code === 0, `helm dependency build ${c}: ${r.err}`);
			const entries = fs.readdirSync(path.join(chart, 'charts'));
			assert(entries.length === 1 && /^schemagate-lib-.*\.tgz$/.test(entries[0]), `charts/${c}/charts holds ${entries}`);
		}
		const exValues = fs.readFileSync(path.join(EXAMPLE, 'values.yaml'), 'utf8');
		for (const m of exValues.matchAll(/templates\/[A-Za-z0-9_.-]+/g))
			assert(fs.existsSync(path.join(EXAMPLE, m[0])), `example-app/values.yaml names ${m[0]}, which does not exist`);
		const native = podOf(one(render(CHART, [...BASE, '--set', 'sidecar.native=true']), 'Deployment')).initContainers.map((c) => c.name);
		const readme = fs.readFileSync(path.join(root, 'charts/schemagate-lib/README.md'), 'utf8');
		const row = readme.split('\n').find((l) => l.startsWith('| `schemagate.initContainers`'));
		assert(native[0] === 'schemagate' && row && /sidecar first/.test(row) && !/then the sidecar/.test(row), `lib README row ${row} vs rendered order ${native}`);
	}],
	['ServiceMonitor and PodMonitor for /metrics', () => {
		const docs = render(CHART, [...BASE, '--set', 'metrics.serviceMonitor.enabled=true', '--set', 'metrics.podMonitor.enabled=true', '--set', 'metrics.serviceMonitor.labels.release=prom']);
		const sm = one(docs, 'ServiceMonitor');
		const svc = one(docs, 'Service', (d) => Object.entries(sm.spec.selector.matchLabels).every(([k, v]) => (d.metadata.labels || {})[k] === v));
		assert(svc.spec.ports.some((p) => p.name === sm.spec.endpoints[0].port) && sm.spec.endpoints[0].path === '/metrics', 'ServiceMonitor scrapes /metrics on the sidecar port of one Service');
		assert(sm.metadata.labels.release === 'prom', 'serviceMonitor.labels');
		const pm = one(docs, 'PodMonitor');
		assert(pm.spec.podMetricsEndpoints[0].port === 'schemagate', 'PodMonitor scrapes the named sidecar port');
		assert(!render(CHART, BASE).some((d) => /Monitor$/.test(d.kind)), 'none by default');
	}],
	['PrometheusRule and Grafana dashboard: opt-in, scoped to the release, settings from values', () => {
		const plain = render(CHART, BASE);
		assert(!plain.some((d) => d.kind === 'PrometheusRule' || (d.kind === 'ConfigMap' && /dashboard/.test(d.metadata.name))), 'neither by default');
		const f = valuesFile('alerts.yaml', {
			lock: { timeout: '7m' },
			metrics: {
				prometheusRule: {
					enabled: true, namespace: 'monitoring', labels: { release: 'prom' }, alertLabels: { team: 'payments' },
					alerts: { schemaBehind: { for: '45m', severity: 'page' }, httpAbuse: { enabled: false } },
				},
				dashboard: { enabled: true, namespace: 'grafana', labels: { extra: 'x' }, annotations: { grafana_folder: 'DB' } },
			},
		});
		const docs = render(CHART, [...BASE, '--namespace', 'shop', '-f', f]);
		const pr = one(docs, 'PrometheusRule');
		assert(pr.metadata.namespace === 'monitoring' && pr.metadata.labels.release === 'prom' && pr.metadata.labels['app.kubernetes.io/instance'] === 'sg', `rule object labels ${JSON.stringify(pr.metadata)}`);
		const rules = pr.spec.groups.flatMap((g) => g.rules);
		const names = rules.map((r) => r.alert).sort();
		assert(JSON.stringify(names) === JSON.stringify(['SchemagateDatabaseDown', 'SchemagateMigrationFailed', 'SchemagateMigrationStuck', 'SchemagateSchemaBehind', 'SchemagateSchemaNotReady', 'SchemagateVersionSkew']), `alerts ${names} (httpAbuse disabled)`);
		for (const r of rules) {
			assert(r.labels.team === 'payments' && r.labels.severity, `${r.alert} labels ${JSON.stringify(r.labels)}`);
			assert(r.annotations.summary && r.annotations.description && r.annotations.runbook_url === `https://github.com/schemagate/schemagate/blob/main/docs/alerts.md#${r.alert.toLowerCase()}`, `${r.alert} annotations`);
			// Every selector of the expr picks this release's pods only.
			const sels = [...r.expr.matchAll(/schemagate_[a-z_]+\{([^}]*)\}/g)].map((m) => m[1]);
			assert(sels.length && sels.every((x) => x.includes("namespace='shop'") && x.includes("pod=~'sg-schemagate-[a-z0-9]+-[a-z0-9]+'")), `${r.alert} selectors ${sels}`);
			assert(!/@[A-Z_]+@/.test(JSON.stringify(r)), `${r.alert} has a placeholder left: ${JSON.stringify(r)}`);
		}
		const behind = rules.find((r) => r.alert === 'SchemagateSchemaBehind');
		assert(behind.for === '45m' && behind.labels.severity === 'page' && /for 45m/.test(behind.annotations.summary), `schemaBehind settings ${JSON.stringify(behind)}`);
		assert(rules.find((r) => r.alert === 'SchemagateMigrationStuck').expr.endsWith('> 420'), 'the stuck threshold is lock.timeout in seconds');
		const cm = one(docs, 'ConfigMap', (d) => d.metadata.name === 'sg-schemagate-dashboard');
		assert(cm.metadata.namespace === 'grafana' && cm.metadata.labels.grafana_dashboard === '1' && cm.metadata.labels.extra === 'x' && cm.metadata.annotations.grafana_folder === 'DB', `dashboard ConfigMap ${JSON.stringify(cm.metadata)}`);
		const dash = JSON.parse(cm.data['schemagate.json']);
		assert(dash.uid === 'schemagate' && dash.panels.length >= 8 && dash.panels.every((p) => p.targets.every((t) => /\$namespace/.test(t.expr) && /\$job/.test(t.expr))), 'dashboard JSON: every query follows the namespace and job variables');
		const sel = render(CHART, [...BASE, '--set', 'metrics.prometheusRule.enabled=true', '--set-string', 'metrics.prometheusRule.selector=job="shop-sidecar"']);
		assert(one(sel, 'PrometheusRule').spec.groups[0].rules.every((r) => r.expr.includes('{job="shop-sidecar"') && !r.expr.includes('pod=~')), 'metrics.prometheusRule.selector replaces the default');
		refuse(CHART, [...BASE, '--set', 'metrics.prometheusRule.alerts.notReady.for=soon'], 'metrics.prometheusRule.alerts.notReady.for');
		refuse(CHART, [...BASE, '--set', 'metrics.prometheusRule.alerts.nosuch.enabled=true'], 'nosuch');
		// A chart built on the library renders the same rules, and checks the block's keys.
		const ex = render(EXAMPLE, ['--set', 'schemagate.secret.existingSecret=db', '--set', 'schemagate.metrics.prometheusRule.enabled=true', '--set', 'schemagate.metrics.dashboard.enabled=true']);
		const exRules = one(ex, 'PrometheusRule').spec.groups[0].rules;
		assert(exRules.length === 7 && exRules.every((r) => r.expr.includes("pod=~'sg-example-[a-z0-9]+-[a-z0-9]+'")), 'example-app: rules select its Deployment sg-example');
		one(ex, 'ConfigMap', (d) => d.metadata.name === 'sg-example-dashboard');
		refuse(EXAMPLE, ['--set', 'schemagate.secret.existingSecret=db', '--set', 'schemagate.metrics.prometheusRule.enabled=true', '--set', 'schemagate.metrics.prometheusRule.alerts.migrationFailed.for=x'], 'schemagate.metrics.prometheusRule.alerts.migrationFailed.for must be a duration');
		refuse(EXAMPLE, ['--set', 'schemagate.secret.existingSecret=db', '--set', 'schemagate.metrics.serviceMonitor.enabled=true'], 'schemagate.metrics.serviceMonitor');
	}],
	['helm test Pod runs schemagate probe against the sidecar Service', () => {
		const docs = render(CHART, BASE);
		const pod = one(docs, 'Pod');
		assert(pod.metadata.annotations['helm.sh/hook'] === 'test', 'a test hook');
		const url = pod.spec.containers[0].args.find((a) => a.startsWith('--url='));
		const svc = one(docs, 'Service', (d) => d.spec.ports.some((p) => p.name === 'schemagate'));
		assert(pod.spec.containers[0].args[0] === 'probe' && url === `--url=http://${svc.metadata.name}:8081/readyz`, `probe ${url}`);
	}],
	['the application container can be customised', () => {
		const f = valuesFile('app.yaml', {
			app: {
				image: { repository: 'app', tag: '1', digest: `sha256:${'a'.repeat(64)}` },
				readinessProbe: { httpGet: { path: '/ready', port: 8080 } },
				startupProbe: { httpGet: { path: '/started', port: 8080 } },
				lifecycle: { preStop: { sleep: { seconds: 5 } } },
				securityContext: { readOnlyRootFilesystem: false },
			},
			extraContainers: [{ name: 'proxy', image: 'proxy:1' }],
			extraVolumes: [{ name: 'cache', emptyDir: {} }],
			priorityClassName: 'high',
			strategy: { type: 'RollingUpdate', rollingUpdate: { maxSurge: 1, maxUnavailable: 0 } },
			revisionHistoryLimit: 3,
		});
		const dep = one(render(CHART, [...BASE, '-f', f]), 'Deployment');
		const spec = podOf(dep);
		const app = spec.containers.find((c) => c.name === 'app');
		const side = spec.containers.find((c) => c.name === 'schemagate');
		assert(app.image === `app@sha256:${'a'.repeat(64)}`, `digest: ${app.image}`);
		assert(app.readinessProbe.httpGet.path === '/ready' && side.readinessProbe.httpGet.path === '/readyz', 'the app keeps its probe; the gate moves to the sidecar');
		assert(app.startupProbe && app.lifecycle.preStop, 'startupProbe and lifecycle');
		assert(app.securityContext.readOnlyRootFilesystem === false && app.securityContext.allowPrivilegeEscalation === false, 'securityContext merged key by key');
		assert(spec.containers.some((c) => c.name === 'proxy') && spec.volumes.some((v) => v.name === 'cache'), 'extra containers and volumes');
		assert(spec.priorityClassName === 'high' && dep.spec.strategy.rollingUpdate.maxSurge === 1 && dep.spec.revisionHistoryLimit === 3, 'priorityClassName, strategy, revisionHistoryLimit');
	}],
	['credentials by reference: one Secret and key per credential', () => {
		const f = valuesFile('refs.yaml', {
			leader: { enabled: true, redisUrl: 'redis://redis-master:6379/0' },
			secret: { refs: { databaseUrl: { name: 'pg-app', key: 'uri' }, redisPassword: { name: 'redis', key: 'redis-password' }, adminToken: { name: 'sg-admin', key: 'token' } } },
			migrations: { files: { '000001_a.up.sql': 'select 1' } },
		});
		const docs = render(CHART, ['-f', f]);
		assert(!docs.some((d) => d.kind === 'Secret'), 'no demo Secret when every credential is a reference');
		const spec = podOf(one(docs, 'Deployment'));
		const mig = spec.initContainers.find((c) => c.name === 'schemagate-migrate');
		const env = Object.fromEntries(mig.env.map((e) => [e.name, e]));
		assert(env.DATABASE_URL.valueFrom.secretKeyRef.name === 'pg-app' && env.DATABASE_URL.valueFrom.secretKeyRef.key === 'uri', 'DATABASE_URL from pg-app/uri');
		assert(env.REDIS_URL.value === 'redis://redis-master:6379/0', 'REDIS_URL plain');
		const pw = env.REDIS_PASSWORD_FILE.value;
		const mount = mig.volumeMounts.find((m) => pw.startsWith(m.mountPath + '/'));
		const vol = spec.volumes.find((v) => v.name === mount.name);
		assert(vol.secret.secretName === 'redis' && vol.secret.items[0].key === 'redis-password', `Redis password file from redis/redis-password: ${JSON.stringify(vol)}`);
		const tok = spec.volumes.find((v) => v.name === 'schemagate-admin-token');
		assert(tok.secret.secretName === 'sg-admin' && tok.secret.items[0].key === 'token', 'admin token from sg-admin/token');
		const side = spec.containers.find((c) => c.name === 'schemagate');
		assert(side.args.includes('--admin-token-file=/var/run/secrets/schemagate/token'), 'the token file path follows the key');
	}],
	['credentials by reference: DATABASE_DIRECT_URL reaches migrate (init container and Job), never wait or serve', () => {
		const envOf = (c) => Object.fromEntries((c.env || []).map((e) => [e.name, e]));
		const ref = ['--set', 'secret.refs.databaseDirectUrl.name=pg-direct', '--set', 'secret.refs.databaseDirectUrl.key=uri'];
		const spec = podOf(one(render(CHART, [...BASE, ...ref]), 'Deployment'));
		const mig = envOf(spec.initContainers.find((c) => c.name === 'schemagate-migrate')).DATABASE_DIRECT_URL;
		assert(mig && JSON.stringify(mig.valueFrom.secretKeyRef) === '{"name":"pg-direct","key":"uri"}', `init container: DATABASE_DIRECT_URL from pg-direct/uri, required: ${JSON.stringify(mig)}`);
		assert(!envOf(spec.containers.find((c) => c.name === 'schemagate')).DATABASE_DIRECT_URL, 'the serve sidecar has no DATABASE_DIRECT_URL');
		const docs = render(CHART, [...BASE, ...ref, '--set', 'migrations.mode=job']);
		const job = envOf(podOf(one(docs, 'Job')).containers.find((c) => c.name === 'schemagate-migrate')).DATABASE_DIRECT_URL;
		assert(job && job.valueFrom.secretKeyRef.name === 'pg-direct' && job.valueFrom.secretKeyRef.key === 'uri', `Job: DATABASE_DIRECT_URL from pg-direct/uri: ${JSON.stringify(job)}`);
		const pod = podOf(one(docs, 'Deployment'));
		for (const c of [...pod.initContainers, ...pod.containers])
			assert(!envOf(c).DATABASE_DIRECT_URL, `job mode: ${c.name} has no DATABASE_DIRECT_URL`);
		// Without a reference: optional, from the chart's Secret (which holds it only when given) or existingSecret.
		const own = render(CHART, [...BASE, '--set', 'secret.databaseDirectUrl=postgres://app@db-direct/app']);
		const opt = envOf(podOf(one(own, 'Deployment')).initContainers.find((c) => c.name === 'schemagate-migrate')).DATABASE_DIRECT_URL.valueFrom.secretKeyRef;
		const secret = one(own, 'Secret');
		assert(opt.optional === true && opt.name === secret.metadata.name && secret.stringData[opt.key] === 'postgres://app@db-direct/app', `optional, from the chart's Secret: ${JSON.stringify(opt)}`);
		assert(!('DATABASE_DIRECT_URL' in one(render(CHART, BASE), 'Secret').stringData), 'the chart\'s Secret has no DATABASE_DIRECT_URL unless given');
		const ex = envOf(podOf(one(render(CHART, [...BASE, '--set', 'secret.existingSecret=db']), 'Deployment')).initContainers[0]).DATABASE_DIRECT_URL.valueFrom.secretKeyRef;
		assert(JSON.stringify(ex) === '{"name":"db","key":"DATABASE_DIRECT_URL","optional":true}', `optional, from existingSecret: ${JSON.stringify(ex)}`);
	}],
	['kustomize: DATABASE_DIRECT_URL, optional from schemagate-db, reaches the migrate init container only', () => {
		const dev = parse(sh(KUBECTL, ['kustomize', path.join(root, 'kustomize/overlays/dev')]).out);
		const spec = podOf(one(dev, 'Deployment'));
		const env = (c) => (c.env || []).find((e) => e.name === 'DATABASE_DIRECT_URL');
		const ref = env(spec.initContainers.find((c) => c.name === 'schemagate-migrate'));
		assert(ref && ref.valueFrom.secretKeyRef.name.startsWith('schemagate-db') && ref.valueFrom.secretKeyRef.key === 'DATABASE_DIRECT_URL' && ref.valueFrom.secretKeyRef.optional === true, `migrate: ${JSON.stringify(ref)}`);
		for (const c of spec.containers)
			assert(!env(c), `${c.name} has no DATABASE_DIRECT_URL`);
	}],
	['22/8: wait and the sidecar get a read-only role of their own; migrate alone the migration role; the application no database URL unless it asks', () => {
		const envOf = (c) => Object.fromEntries((c.env || []).map((e) => [e.name, e]));
		const ref = (e) => JSON.stringify(e && e.valueFrom.secretKeyRef);
		const named = (cs, n) => cs.find((c) => c.name === n);
		let spec = podOf(one(render(CHART, BASE), 'Deployment'));
		assert(!envOf(named(spec.containers, 'app')).DATABASE_URL, `the application gets the migration role's URL by default: ${ref(envOf(named(spec.containers, 'app')).DATABASE_URL)}`);
		// its own reference: the sidecar (and wait, in job mode) read it; migrate keeps the migration role
		const r = ['--set', 'secret.refs.readerDatabaseUrl.name=pg-ro', '--set', 'secret.refs.readerDatabaseUrl.key=uri'];
		spec = podOf(one(render(CHART, [...BASE, ...r]), 'Deployment'));
		assert(ref(envOf(named(spec.containers, 'schemagate')).DATABASE_URL) === '{"name":"pg-ro","key":"uri"}', `sidecar: ${ref(envOf(named(spec.containers, 'schemagate')).DATABASE_URL)}`);
		const mig = envOf(named(spec.initContainers, 'schemagate-migrate')).DATABASE_URL;
		assert(mig.valueFrom.secretKeyRef.name !== 'pg-ro' && mig.valueFrom.secretKeyRef.key === 'DATABASE_URL', `migrate: ${ref(mig)}`);
		const jobDocs = render(CHART, [...BASE, ...r, '--set', 'migrations.mode=job']);
		assert(ref(envOf(named(podOf(one(jobDocs, 'Deployment')).initContainers, 'schemagate-wait')).DATABASE_URL) === '{"name":"pg-ro","key":"uri"}', 'wait reads the read-only role');
		assert(envOf(podOf(one(jobDocs, 'Job')).containers[0]).DATABASE_URL.valueFrom.secretKeyRef.name !== 'pg-ro', 'the Job migrates with the migration role');
		// a key of existingSecret, or of the chart's own Secret (which then needs the value)
		spec = podOf(one(render(CHART, [...BASE, '--set', 'secret.existingSecret=db', '--set', 'secret.readerDatabaseUrlKey=READER']), 'Deployment'));
		assert(ref(envOf(named(spec.containers, 'schemagate')).DATABASE_URL) === '{"name":"db","key":"READER"}', 'sidecar: existingSecret db, key READER');
		const own = render(CHART, [...BASE, '--set', 'secret.readerDatabaseUrlKey=READER', '--set', 'secret.readerDatabaseUrl=postgres://ro@db/app']);
		assert(one(own, 'Secret').stringData.READER === 'postgres://ro@db/app' && ref(envOf(named(podOf(one(own, 'Deployment')).containers, 'schemagate')).DATABASE_URL).includes('"key":"READER"'), 'the chart\'s Secret holds the read-only URL the sidecar reads');
		refuse(CHART, [...BASE, '--set', 'secret.readerDatabaseUrl=postgres://ro@db/app'], 'secret.readerDatabaseUrl needs secret.readerDatabaseUrlKey');
		refuse(CHART, [...BASE, '--set', 'secret.readerDatabaseUrlKey=READER'], 'secret.readerDatabaseUrl is required');
		// the application, when it asks: its own reference
		spec = podOf(one(render(CHART, [...BASE, '--set', 'app.injectDatabaseEnv=true', '--set', 'app.databaseUrlRef.name=app-db']), 'Deployment'));
		assert(ref(envOf(named(spec.containers, 'app')).DATABASE_URL) === '{"name":"app-db","key":"DATABASE_URL"}', 'the application reads its own Secret');
		// the library renders the same containers for a chart of one's own
		const ex = copyChart(EXAMPLE, 'example-reader');
		spec = podOf(one(render(ex, ['--set', 'schemagate.secret.existingSecret=db', '--set', 'schemagate.secret.refs.readerDatabaseUrl.name=pg-ro']), 'Deployment'));
		assert(ref(envOf(named(spec.containers, 'schemagate')).DATABASE_URL) === '{"name":"pg-ro","key":"DATABASE_URL"}', 'example-app: the sidecar reads pg-ro');
		assert(ref(envOf(named(spec.initContainers, 'schemagate-migrate')).DATABASE_URL) === '{"name":"db","key":"DATABASE_URL"}', 'example-app: migrate reads db');
	}],
	['22/8: kustomize: the sidecar reads READER_DATABASE_URL; migrate alone DATABASE_URL; the application its own Secret', () => {
		const dev = parse(sh(KUBECTL, ['kustomize', path.join(root, 'kustomize/overlays/dev')]).out);
		const spec = podOf(one(dev, 'Deployment'));
		const url = (c) => ((c.env || []).find((e) => e.name === 'DATABASE_URL') || {}).valueFrom;
		const key = (c) => url(c) && url(c).secretKeyRef.name.startsWith('schemagate-db') && url(c).secretKeyRef.key;
		assert(key(spec.initContainers.find((c) => c.name === 'schemagate-migrate')) === 'DATABASE_URL', 'migrate reads DATABASE_URL');
		assert(key(spec.containers.find((c) => c.name === 'schemagate')) === 'READER_DATABASE_URL', `the sidecar reads ${key(spec.containers.find((c) => c.name === 'schemagate'))}`);
		const app = spec.containers.find((c) => c.name === 'app');
		assert(app && !key(app), `the application reads schemagate-db's ${app && key(app)}`);
		assert('READER_DATABASE_URL' in (one(dev, 'Secret', (d) => d.metadata.name.startsWith('schemagate-db')).data || {}), 'the dev Secret has READER_DATABASE_URL');
	}],
	['22/9: the pods\' checksum annotation covers no credential (it was an unsalted hash of the Secret)', () => {
		const sum = (args) => annotationsOf(one(render(CHART, args), 'Deployment'))['checksum/schemagate'];
		const a = sum(BASE);
		const b = sum([...BASE, '--set', 'secret.databaseUrl=postgres://app:another-password@db/app', '--set', 'secret.adminToken=another-token']);
		assert(a && a === b, `the checksum changes with the password and the admin token: ${a} vs ${b}`);
		assert(sum([...BASE, '--set', 'migrations.revision=r2']) !== a, 'it still changes with the migrations');
	}],
	['Chart.yaml: home, sources and a description of what the chart does', () => {
		for (const c of ['schemagate', 'schemagate-lib', 'example-app']) {
			const y = YAML.parse(fs.readFileSync(path.join(root, 'charts', c, 'Chart.yaml'), 'utf8'));
			assert(/^https:\/\//.test(y.home || '') && Array.isArray(y.sources) && y.sources.length, `charts/${c}: home and sources`);
			assert((y.description || '').length > 40, `charts/${c}: description`);
		}
	}],
];

let passed = 0;
let failed = 0;
for (const [name, fn] of CASES) {
	try {
		fn();
		console.log(`ok: ${name}`);
		passed++;
	} catch (e) {
		console.log(`FAIL: ${name}: ${e.message}`);
		failed++;
	}
}
fs.rmSync(tmp, { recursive: true, force: true });
console.log(`${passed} passed, ${failed} failed`);
process.exit(failed ? 1 : 0);
