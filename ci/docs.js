#!/usr/bin/env node
// ci/docs.js - the generated blocks of README.md and docs/*.md, and the layout of the docs.
//
// Usage: node ci/docs.js write BIN   rewrite every generated block with BIN's output
//        node ci/docs.js check BIN   fail (exit 1) when a block differs from BIN's output,
//                                    or the layout rules below are broken
// (ci/docs.sh finds BIN and runs it; ci/checks.d/10-docs.sh runs the check.)
//
// A generated block is the exact output of one `schemagate help ...` command
// between two marker lines:
//   <!-- generated: schemagate help config --markdown; bash ci/docs.sh rewrites it -->
//   ...
//   <!-- end generated -->
// Layout rules: README.md has at most README_MAX_LINES lines and links every
// docs/*.md page; every `help` topic has a block somewhere; every relative
// link of every Markdown file in the repository names a file that exists
// and, with #anchor, a heading of that file (GitHub's slugs).
// Plain Node.js, no packages.
'use strict';

const fs = require('fs');
const path = require('path');
const { execFileSync } = require('child_process');

const README_MAX_LINES = 200;
const root = path.resolve(__dirname, '..');
const BEGIN = /^<!-- generated: schemagate (help [a-z-]+(?: --markdown)?)(?:;[^>]*)? -->$/;
const END = '<!-- end generated -->';

function usage() {
	console.error('usage: node ci/docs.js write|check BIN');
	process.exit(2);
}

// README.md, then docs/*.md in name order (repository-relative paths).
function docFiles() {
	const docs = fs.existsSync(path.join(root, 'docs'))
		? fs.readdirSync(path.join(root, 'docs')).filter((f) => f.endsWith('.md')).sort()
		: [];
	return ['README.md', ...docs.map((f) => `docs/${f}`)];
}

// The Markdown files whose links are checked: every *.md of the repository
// but build trees, hidden folders (.tmp, .git) and installed packages.
function linkedFiles() {
	const out = [];
	const walk = (dir) => {
		for (const e of fs.readdirSync(path.join(root, dir), { withFileTypes: true })) {
			const rel = dir === '' ? e.name : `${dir}/${e.name}`;
			if (e.isDirectory()) {
				if (!/^(\.|build|node_modules$)/.test(e.name)) walk(rel);
			} else if (e.name.endsWith('.md')) {
				out.push(rel);
			}
		}
	};
	walk('');
	return out.sort();
}

// Splits a file into text and generated blocks; throws on unbalanced markers.
function blocks(file, text) {
	const lines = text.split('\n');
	const out = [];
	let open = null;
	lines.forEach((line, i) => {
		const m = BEGIN.exec(line);
		if (m) {
			if (open) throw new Error(`${file}:${i + 1}: generated block inside another (from line ${open.line})`);
			open = { line: i + 1, start: i, args: m[1].split(' ') };
		} else if (line === END) {
			if (!open) throw new Error(`${file}:${i + 1}: "${END}" without its start`);
			out.push({ ...open, end: i });
			open = null;
		}
	});
	if (open) throw new Error(`${file}:${open.line}: generated block never ends`);
	return { lines, blocks: out };
}

function run(bin, args) {
	return execFileSync(bin, args, { encoding: 'utf8', env: { PATH: process.env.PATH } });
}

// Each file with its blocks replaced by BIN's output: [{file, old, new}].
function regenerate(bin) {
	const cache = new Map();
	return docFiles().map((file) => {
		const old = fs.readFileSync(path.join(root, file), 'utf8');
		const { lines, blocks: bs } = blocks(file, old);
		const result = [];
		let at = 0;
		for (const b of bs) {
			const key = b.args.join(' ');
			if (!cache.has(key)) cache.set(key, run(bin, b.args).replace(/\n$/, '').split('\n'));
			result.push(...lines.slice(at, b.start + 1), ...cache.get(key));
			at = b.end;
		}
		result.push(...lines.slice(at));
		return { file, old, new: result.join('\n'), topics: bs.map((b) => b.args[1]) };
	});
}

// GitHub's heading anchors: lower case, punctuation dropped, blanks to '-',
// repeats numbered -1, -2, ...
function anchors(text) {
	const seen = new Map();
	const out = new Set();
	let fence = null;
	for (const line of text.split('\n')) {
		const f = /^\s*(```+|~~~+)/.exec(line);
		if (f) {
			if (!fence) fence = f[1][0];
			else if (f[1][0] === fence) fence = null;
			continue;
		}
		if (fence) continue;
		const h = /^#{1,6}\s+(.*?)\s*#*\s*$/.exec(line);
		if (!h) continue;
		const base = h[1]
			.replace(/\[([^\]]*)\]\([^)]*\)/g, '$1')
			.toLowerCase()
			.replace(/[^\p{L}\p{M}\p{N}\p{Pc} -]/gu, '')
			.replace(/ /g, '-');
		const n = seen.get(base) || 0;
		seen.set(base, n + 1);
		out.add(n === 0 ? base : `${base}-${n}`);
	}
	return out;
}

// Every [text](target) outside code, with its line number.
function links(text) {
	const out = [];
	let fence = null;
	text.split('\n').forEach((line, i) => {
		const f = /^\s*(```+|~~~+)/.exec(line);
		if (f) {
			if (!fence) fence = f[1][0];
			else if (f[1][0] === fence) fence = null;
			return;
		}
		if (fence || /^(\t| {4})/.test(line)) return;
		const bare = line.replace(/`[^`]*`/g, '');
		for (const m of bare.matchAll(/\]\(([^)\s]+)(?:\s+"[^"]*")?\)/g)) out.push({ line: i + 1, target: m[1] });
	});
	return out;
}

function check(bin) {
	const problems = [];
	const regenerated = regenerate(bin);

	for (const r of regenerated) {
		if (r.old === r.new) continue;
		const a = r.old.split('\n');
		const b = r.new.split('\n');
		let i = 0;
		while (i < a.length && a[i] === b[i]) i++;
		problems.push(`${r.file}:${i + 1}: generated block differs from the binary's output\n` +
			`    file:   ${a[i] === undefined ? '(end of file)' : a[i]}\n` +
			`    binary: ${b[i] === undefined ? '(end of file)' : b[i]}\n` +
			'    fix: bash ci/docs.sh (after building), then commit the result');
	}

	const topicsLine = run(bin, ['help', 'commands']).split('\n').find((l) => l.startsWith('schemagate help ['));
	const topics = topicsLine ? /\[([^\]]*)\]/.exec(topicsLine)[1].split('|') : [];
	if (topics.length === 0) problems.push('`schemagate help commands` names no help topics');
	const present = new Set(regenerated.flatMap((r) => r.topics));
	for (const t of topics) {
		if (!present.has(t)) problems.push(`no generated block prints \`schemagate help ${t} --markdown\``);
	}

	const readme = fs.readFileSync(path.join(root, 'README.md'), 'utf8');
	const readmeLines = readme.replace(/\n$/, '').split('\n').length;
	if (readmeLines > README_MAX_LINES) {
		problems.push(`README.md has ${readmeLines} lines, at most ${README_MAX_LINES}: move the detail into docs/`);
	}
	const readmeTargets = new Set(links(readme).map((l) => l.target.split('#')[0]));
	for (const f of docFiles().slice(1)) {
		if (!readmeTargets.has(f)) problems.push(`README.md does not link ${f}`);
	}

	const anchorCache = new Map();
	for (const file of linkedFiles()) {
		const text = fs.readFileSync(path.join(root, file), 'utf8');
		for (const { line, target } of links(text)) {
			if (/^[a-z][a-z0-9+.-]*:/i.test(target)) continue; // https:, mailto:
			const [rel, frag] = target.split('#');
			const dest = rel === '' ? path.join(root, file) : path.resolve(path.dirname(path.join(root, file)), rel);
			if (!dest.startsWith(root + path.sep) && dest !== root) {
				problems.push(`${file}:${line}: link ${target} leaves the repository`);
				continue;
			}
			if (!fs.existsSync(dest)) {
				problems.push(`${file}:${line}: link ${target}: no such file`);
				continue;
			}
			if (frag === undefined || !dest.endsWith('.md')) continue;
			if (!anchorCache.has(dest)) anchorCache.set(dest, anchors(fs.readFileSync(dest, 'utf8')));
			if (!anchorCache.get(dest).has(frag)) {
				problems.push(`${file}:${line}: link ${target}: no heading #${frag} in ${path.relative(root, dest)}`);
			}
		}
	}
	return problems;
}

function main() {
	const [cmd, bin] = process.argv.slice(2);
	if (!bin || (cmd !== 'write' && cmd !== 'check')) usage();
	try {
		if (cmd === 'write') {
			for (const r of regenerate(path.resolve(bin))) {
				if (r.old === r.new) continue;
				fs.writeFileSync(path.join(root, r.file), r.new);
				console.log(`rewrote ${r.file}`);
			}
			return;
		}
		const problems = check(path.resolve(bin));
		for (const p of problems) console.log(p);
		if (problems.length > 0) process.exit(1);
	} catch (e) {
		console.error(`ci/docs.js: ${e.message}`);
		process.exit(1);
	}
}

main();
