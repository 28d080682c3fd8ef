// bench/peer-nodemailer.js - the nodemailer peer of bench/send-run: sends
// every draft of a JSON Lines file (mailsend's draft records: to, subject,
// body, headers) through one pooled SMTP transport, all queued at once, as
// a bulk sender would, and prints how many the server accepted.
//
// usage: node peer-nodemailer.js PORT DRAFTS FROM [CONNECTIONS]
//   CONNECTIONS  "1": one connection for every message (maxConnections 1,
//                maxMessages Infinity), as mailsend sends; "default": the
//                pool's own defaults (5 connections, 100 messages each).
'use strict';

const fs = require('fs');
const readline = require('readline');
const nodemailer = require('nodemailer');

async function main() {
	const [port, file, from, conns = '1'] = process.argv.slice(2);
	if (!port || !file || !from) {
		console.error('usage: node peer-nodemailer.js PORT DRAFTS FROM [1|default]');
		process.exit(64);
	}
	const opts = {
		pool: true,
		host: '127.0.0.1',
		port: Number(port),
		secure: false,
		ignoreTLS: true,
	};
	if (conns === '1') {
		opts.maxConnections = 1;
		opts.maxMessages = Infinity;
	}
	const transport = nodemailer.createTransport(opts);
	const drafts = [];
	const rl = readline.createInterface({ input: fs.createReadStream(file),
	    crlfDelay: Infinity });
	for await (const line of rl) {
		if (line)
			drafts.push(JSON.parse(line));
	}
	const sent = await Promise.all(drafts.map((d) => transport.sendMail({
		from,
		to: d.to,
		subject: d.subject,
		text: d.body,
		headers: d.headers,
	}).then((info) => info.accepted.length > 0 ? 1 : 0, (err) => {
		console.error(`nodemailer: ${err.message}`);
		return 0;
	})));
	transport.close();
	const n = sent.reduce((a, b) => a + b, 0);
	console.log(n);
	process.exit(n === drafts.length ? 0 : 1);
}

main().catch((err) => {
	console.error(`nodemailer: ${err.stack || err}`);
	process.exit(70);
});
