'use strict';
// validate-cli.js - strict offline validation of manifest files (see validate.js).
//
// Usage: node validate-cli.js FILE...                  every manifest must be valid
//        node validate-cli.js --expect-invalid FILE... every file must be rejected
// Exit 0 when the expectation holds, 1 otherwise; prints what it found.

const fs = require('fs');
const YAML = require('yaml');
const { validateAll } = require('./validate');

let expectInvalid = false;
const files = [];
for (const a of process.argv.slice(2)) {
	if (a === '--expect-invalid')
		expectInvalid = true;
	else
		files.push(a);
}
if (!files.length) {
	console.error('usage: validate-cli.js [--expect-invalid] FILE...');
	process.exit(2);
}
let bad = 0;
for (const f of files) {
	let errors;
	let count = 0;
	try {
		const docs = YAML.parseAllDocuments(fs.readFileSync(f, 'utf8'))
			.map((d) => {
				if (d.errors.length)
					throw new Error(d.errors[0].message);
				return d.toJS();
			})
			.filter((d) => d && typeof d === 'object');
		count = docs.length;
		errors = count ? validateAll(docs) : ['no manifests'];
	} catch (e) {
		errors = [`${f}: ${e.message}`];
	}
	if (expectInvalid) {
		if (errors.length) {
			console.log(`ok: ${f} rejected: ${errors[0]}`);
		} else {
			console.log(`FAIL: ${f} was expected to be rejected but is valid`);
			bad++;
		}
	} else if (errors.length) {
		console.log(`FAIL: ${f}:\n  ${errors.join('\n  ')}`);
		bad++;
	} else {
		console.log(`ok: ${f}: ${count} manifests valid`);
	}
}
process.exit(bad ? 1 : 0);
