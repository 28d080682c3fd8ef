/*
 * Every limit on untrusted input, each with its reason.  Going over one
 * gives an error record, never a crash or a quiet truncation.
 */
#ifndef LIMITS_H
#define LIMITS_H

/* Larger than any mail a server accepts (Gmail 50 MB, Exchange 150 MB). */
#define MAX_MESSAGE_BYTES	(256UL * 1024 * 1024)

/* Real mail nests a few levels; the GMime parser recurses per level. */
#define MAX_MIME_DEPTH		32

/* Real mail has tens of parts; each costs a record entry and a hash. */
#define MAX_MIME_PARTS		4096

/* Forwards of forwards: each nested message is a full record. */
#define MAX_NESTED_MESSAGES	256

/* One header value kept in a record; RFC 5322 lines are 998 bytes. */
#define MAX_HEADER_BYTES	(1UL * 1024 * 1024)

/* Headers kept per message; spam with thousands is an attack. */
#define MAX_HEADERS		10000

/* One JSON Lines record read by any tool. */
#define MAX_RECORD_BYTES	(512UL * 1024 * 1024)

/* Files unpacked from one TNEF winmail.dat. */
#define MAX_TNEF_FILES		256

#endif
