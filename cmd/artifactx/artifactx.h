/*
 * artifactx internals: the indicator set of one message (iocset.c), the
 * scanner that fills it from text (scan.c), and the checks for hosts and
 * addresses (host.c).
 */
#ifndef ARTIFACTX_H
#define ARTIFACTX_H

#include <stddef.h>
#include <jansson.h>

enum ioctype { IOC_IP, IOC_URL, IOC_DOMAIN, IOC_HASH, IOC_EMAIL, IOC_FILE,
	IOC_NTYPES };

/* Types asked for (--only); a bit per enum ioctype. */
extern unsigned	wanted;

/* Role of an address, for its CEF name. */
enum role { ROLE_NONE, ROLE_FROM, ROLE_TO };

struct iocset;

struct iocset	*iocset_new(void);
void		 iocset_free(struct iocset *);
void		 iocset_clear(struct iocset *);

/*
 * Add one occurrence of (type, value) found at where.  defanged marks an
 * occurrence that was written defanged; extra holds type-specific fields
 * (algo, scope, version), merged on first sight; the reference is taken.
 */
long		 iocset_add(struct iocset *, enum ioctype, const char *value,
		    size_t n, const char *where, int defanged, enum role,
		    json_t *extra);
/*
 * iocset_add() gives the indicator's number in the set, -1 for a type not
 * asked for.  iocset_again(set, k) is one more sighting like the one that
 * gave k: same place, role and defanged.  Numbers hold until the set is
 * cleared, and iocset_epoch() then changes (it is never 0, nor the same
 * for two sets).
 */
void		 iocset_again(struct iocset *, size_t);
unsigned long	 iocset_epoch(const struct iocset *);
/* The number the set gives where, among its places; -1 when they are full. */
long		 iocset_place(struct iocset *, const char *where);

/* Take every indicator of other, each place prefixed with prefix. */
void		 iocset_merge(struct iocset *, const struct iocset *,
		    const char *prefix);

/* The set as a JSON array, in order of first sighting.  New reference. */
json_t		*iocset_json(const struct iocset *);
/* The same, written by jsonl_write_with (arg: the iocset). */
struct jsonw;
void		 iocset_write(struct jsonw *, void *);

/* The type's name ("ip") and its Splunk SOAR artifact name ("IP Artifact"). */
const char	*ioc_name(enum ioctype);
const char	*ioc_artifact_name(enum ioctype);

/* Set up the scanner's tables; once, before scanning. */
void		 scan_init(void);

/* Scan n bytes of UTF-8 text for indicators, into set, at where. */
void		 scan_text(struct iocset *, const char *s, size_t n,
		    const char *where);

/* Scan an address from a header field; its emails take the role. */
void		 scan_address(struct iocset *, const char *s, size_t n,
		    const char *where, enum role);

/* Scan an HTML body: its visible text and its href, src and action values. */
void		 scan_html(struct iocset *, const char *s, size_t n,
		    const char *where);

/* Host checks (host.c); all take and give lowercase-able UTF-8. */
void		 host_init(void);
/*
 * A domain name with a listed public suffix, not itself a suffix: its
 * lowercase Unicode form into out (outsz bytes); 0, or -1 when it is not
 * such a name.
 */
int		 host_domain(const char *s, size_t n, char *out, size_t outsz);
/* A dotted-quad IPv4 (no leading zeros) at s[0..n): 0 or -1. */
int		 host_ipv4(const char *s, size_t n, unsigned char addr[4]);
/* The scope of an address: public, private, loopback, ... */
const char	*host_scope4(const unsigned char addr[4]);
const char	*host_scope6(const unsigned char addr[16]);

#endif
