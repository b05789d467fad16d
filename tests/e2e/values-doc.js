'use strict';
// values-doc.js - every value of a chart is documented in its README, and the README names no stale value.
//
// Usage: node values-doc.js VALUES_YAML README_MD
// A value is a leaf of values.yaml (maps are followed except resources'
// requests/limits, which are documented whole); the README documents it in a
// table row starting with | `key` |.

const fs = require('fs');
const YAML = require('yaml');

const [valuesFile, readmeFile] = process.argv.slice(2);
if (!readmeFile) {
	console.error('usage: values-doc.js VALUES_YAML README_MD');
	process.exit(2);
}
const keys = [];
(function walk(o, p) {
	for (const [k, v] of Object.entries(o)) {
		const q = p ? `${p}.${k}` : k;
		if (v && typeof v === 'object' && !Array.isArray(v) && Object.keys(v).length && k !== 'requests' && k !== 'limits')
			walk(v, q);
		else
			keys.push(q);
	}
})(YAML.parse(fs.readFileSync(valuesFile, 'utf8')), '');
const rows = new Set([...fs.readFileSync(readmeFile, 'utf8').matchAll(/^\| `([^`]+)` \|/gm)].map((m) => m[1]));
const missing = keys.filter((k) => !rows.has(k));
const stale = [...rows].filter((k) => !keys.includes(k));
for (const k of missing)
	console.log(`undocumented value: ${k}`);
for (const k of stale)
	console.log(`README documents a value that does not exist: ${k}`);
if (missing.length || stale.length)
	process.exit(1);
console.log(`ok: ${keys.length} values documented in ${readmeFile}`);
