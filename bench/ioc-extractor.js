#!/usr/bin/env node
/*
 * ioc-extractor.js - npm's ioc-extractor as a peer for bench/ioc-run.
 *
 * usage: node ioc-extractor.js [FILE]      (default: standard input)
 *
 * Reads the whole input as one string (UTF-8, invalid bytes replaced) and
 * calls extractIOC() on it once with the package's default options (strict
 * TLD matching, no refanging, no punycode, sorted, deduplicated), which
 * runs all of its extractors: the network ones (domains, emails, IPv4,
 * IPv6, URLs, ASNs), the hashes (MD5, SHA-1, SHA-256, SHA-512, ssdeep) and
 * the rest (CVE, MAC, BTC/ETH/XMR, Google Analytics ids).
 *
 * Prints one line: "N artifacts" and then "<type> <count>" for each type
 * that found something, N being the sum over all types.
 */
'use strict';

const fs = require('fs');
const { extractIOC } = require('ioc-extractor');

function main(argv) {
	if (argv.length > 1) {
		process.stderr.write('usage: ioc-extractor.js [FILE]\n');
		return 64;
	}
	const text = fs.readFileSync(argv.length ? argv[0] : 0).toString('utf8');
	const ioc = extractIOC(text);
	let total = 0;
	const parts = [];
	for (const [type, values] of Object.entries(ioc)) {
		total += values.length;
		if (values.length)
			parts.push(`${type} ${values.length}`);
	}
	process.stdout.write(`${total} artifacts ${parts.join(' ')}\n`);
	return 0;
}

process.exitCode = main(process.argv.slice(2));
