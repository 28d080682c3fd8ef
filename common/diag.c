#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "diag.h"
#include "utf8.h"

static const char *prog = "mailcase";

void
diag_init(const char *argv0)
{
	const char *p;

	if (argv0 == NULL || *argv0 == '\0')
		return;
	prog = (p = strrchr(argv0, '/')) ? p + 1 : argv0;
}

const char *
diag_prog(void)
{
	return prog;
}

char *
diag_safe(char *out, size_t outsz, const char *s, size_t n)
{
	size_t i = 0, o = 0, len;
	unsigned char c;

	if (outsz == 0)
		return out;
	while (i < n) {
		c = (unsigned char)s[i];
		if (c >= 0x80 && (len = utf8_seqlen(s + i, n - i)) > 0) {
			if (o + len >= outsz)
				break;
			memcpy(out + o, s + i, len);
			o += len;
			i += len;
			continue;
		}
		if (c < 0x20 || c == 0x7f || c >= 0x80) {
			if (o + 4 >= outsz)
				break;
			snprintf(out + o, 5, "\\x%02x", c);
			o += 4;
		} else {
			if (o + 1 >= outsz)
				break;
			out[o++] = (char)c;
		}
		i++;
	}
	out[o] = '\0';
	return out;
}

void
diag(const char *object, const char *op, const char *fmt, ...)
{
	char reason[1024], safe_obj[DIAG_MAX + 1], safe_reason[DIAG_MAX + 1];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(reason, sizeof(reason), fmt, ap);
	va_end(ap);
	diag_safe(safe_reason, sizeof(safe_reason), reason, strlen(reason));
	fprintf(stderr, "%s: ", prog);
	if (object != NULL)
		fprintf(stderr, "%s: ", diag_safe(safe_obj, sizeof(safe_obj),
		    object, strlen(object)));
	if (op != NULL)
		fprintf(stderr, "%s: ", op);
	fprintf(stderr, "%s\n", safe_reason);
}
