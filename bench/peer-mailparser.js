#!/usr/bin/env node
/*
 * peer-mailparser.js - the node mailparser peer for bench/run.
 *
 * usage: node peer-mailparser.js MBOX
 *
 * Splits MBOX the way bench/gmimewalk does (a record runs from a line
 * beginning "From " up to the next; the From_ line is dropped; no mboxrd
 * unescaping; bytes before the first From_ line are a record too) and
 * hands each message to mailparser's simpleParser with its default
 * options, one at a time (await), dropping the result.  The file is read
 * in 8 MiB chunks so the process holds one message at a time.
 *
 * Prints one line: "N messages B bytes A attachments F failed", where
 * failed counts messages simpleParser rejected (counted, never fatal).
 */
'use strict';

const fs = require('fs');
const { simpleParser } = require('mailparser');

const CHUNK = 8 * 1024 * 1024;
const SEP = Buffer.from('\nFrom ');
const FROM = Buffer.from('From ');

function* records(fd) {
	let buf = Buffer.alloc(0);
	let scan = 0;
	for (;;) {
		const chunk = Buffer.allocUnsafe(CHUNK);
		const n = fs.readSync(fd, chunk, 0, CHUNK, null);
		if (n === 0)
			break;
		buf = buf.length ? Buffer.concat([buf, chunk.subarray(0, n)]) :
		    chunk.subarray(0, n);
		let pos = 0;
		for (;;) {
			const i = buf.indexOf(SEP, scan);
			if (i < 0)
				break;
			yield buf.subarray(pos, i + 1);
			pos = scan = i + 1;
		}
		buf = buf.subarray(pos);
		scan = Math.max(0, buf.length - 5);
	}
	if (buf.length)
		yield buf;
}

async function main(argv) {
	if (argv.length !== 1) {
		process.stderr.write('usage: peer-mailparser.js MBOX\n');
		return 64;
	}
	const fd = fs.openSync(argv[0], 'r');
	let messages = 0, total = 0, attachments = 0, failed = 0;
	for (let rec of records(fd)) {
		total += rec.length;
		if (rec.subarray(0, 5).equals(FROM)) {
			const nl = rec.indexOf(10);
			rec = nl < 0 ? rec.subarray(rec.length) : rec.subarray(nl + 1);
		}
		messages++;
		try {
			const mail = await simpleParser(rec);
			attachments += mail.attachments.length;
		} catch (e) {
			failed++;
		}
	}
	fs.closeSync(fd);
	process.stdout.write(`${messages} messages ${total} bytes ` +
	    `${attachments} attachments ${failed} failed\n`);
	return 0;
}

main(process.argv.slice(2)).then((rc) => { process.exitCode = rc; });
