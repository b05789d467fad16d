'use strict';
// validate.js - offline, strict validation of Kubernetes manifests against the API schema.
//
// kubernetes-models ships validators generated from the Kubernetes OpenAPI
// spec, but like the schema they come from they accept unknown fields, so a
// typo such as `initContainer:` would pass. We add the rejection: the
// document is wrapped in Proxies that record every property the validator
// reads. A generated validator reads each property its schema declares
// (`data.name`, `data.args`, ...) and enumerates an object only when the
// schema has additionalProperties (labels, ConfigMap data, resources). So a
// key that was neither read nor enumerated is a field the schema does not
// know.

const fs = require('fs');
const path = require('path');

// apiVersion group -> the prefix of kubernetes-models' generated schema names.
function schemaName(apiVersion, kind) {
	const [group, version] = apiVersion.includes('/') ? apiVersion.split('/') : ['core', apiVersion];
	const g = group.split('.')[0];
	const cap = (s) => s.charAt(0).toUpperCase() + s.slice(1);
	return `IoK8sApi${cap(g)}${cap(version)}${kind}`;
}

function loadValidator(apiVersion, kind) {
	// Prometheus Operator kinds come from @kubernetes-models/prometheus-operator,
	// generated from its CRDs the same way.
	const [group, version] = apiVersion.split('/');
	const monitoring = group === 'monitoring.coreos.com';
	const name = monitoring ? `ComGithubPrometheusOperatorPrometheusOperatorPkgApisMonitoring${version.charAt(0).toUpperCase() + version.slice(1)}${kind}` : schemaName(apiVersion, kind);
	const pkg = monitoring ? '@kubernetes-models/prometheus-operator' : 'kubernetes-models';
	// The package's "exports" hide _schemas/; an absolute path reaches it.
	const file = path.join(path.dirname(require.resolve(pkg + '/package.json')), '_schemas', name + '.js');
	if (!fs.existsSync(file))
		return null;
	return require(file).validate;
}

// Wraps value in recording Proxies. seen: Map(path -> {read:Set, enumerated:bool, keys:[]}).
function track(value, p, seen) {
	if (value === null || typeof value !== 'object')
		return value;
	const rec = { read: new Set(), enumerated: false, keys: Object.keys(value), isArray: Array.isArray(value) };
	seen.set(p, rec);
	const wrapped = Array.isArray(value) ? value.map((v, i) => track(v, `${p}[${i}]`, seen)) : {};
	if (!Array.isArray(value))
		for (const k of Object.keys(value))
			wrapped[k] = track(value[k], `${p}.${k}`, seen);
	return new Proxy(wrapped, {
		get(t, k, r) {
			if (typeof k === 'string')
				rec.read.add(k);
			return Reflect.get(t, k, r);
		},
		has(t, k) {
			if (typeof k === 'string')
				rec.read.add(k);
			return Reflect.has(t, k);
		},
		ownKeys(t) {
			rec.enumerated = true;
			return Reflect.ownKeys(t);
		},
		getOwnPropertyDescriptor(t, k) {
			if (typeof k === 'string')
				rec.read.add(k);
			return Reflect.getOwnPropertyDescriptor(t, k);
		},
	});
}

// Returns a list of error strings for one manifest (empty: valid).
function validateManifest(doc) {
	const where = `${doc.kind || '?'}/${(doc.metadata && doc.metadata.name) || '?'}`;
	if (!doc.apiVersion || !doc.kind)
		return [`${where}: apiVersion and kind are required`];
	const validate = loadValidator(doc.apiVersion, doc.kind);
	if (!validate)
		return [`${where}: no schema for ${doc.apiVersion} ${doc.kind} in kubernetes-models`];
	// Go's base64 decoder, which the API server uses for []byte, skips line
	// breaks, and kustomize folds long Secret values: compare without them.
	if (doc.kind === 'Secret' && doc.data) {
		doc = { ...doc, data: { ...doc.data } };
		for (const k of Object.keys(doc.data))
			doc.data[k] = String(doc.data[k]).replace(/[\r\n]/g, '');
	}
	const seen = new Map();
	const data = track(doc, '', seen);
	const ok = validate(data);
	const errors = [];
	if (!ok)
		for (const e of validate.errors || [])
			errors.push(`${where}: ${e.instancePath || '/'} ${e.message || e.keyword} ${JSON.stringify(e.params || {})}`);
	for (const [p, rec] of seen) {
		if (rec.isArray || rec.enumerated)
			continue;
		for (const k of rec.keys)
			if (!rec.read.has(k))
				errors.push(`${where}: unknown field "${p ? p.slice(1) + '.' : ''}${k}"`);
	}
	return errors;
}

function validateAll(docs) {
	const errors = [];
	for (const d of docs)
		errors.push(...validateManifest(d));
	return errors;
}

module.exports = { validateManifest, validateAll };
