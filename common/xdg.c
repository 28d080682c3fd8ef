#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "xdg.h"

char *
xdg_path(const char *own, const char *xdgvar, const char *homedir,
    const char *leaf)
{
	const char *e;
	char *p;

	if ((e = getenv(own)) != NULL && *e != '\0')
		return strdup(e);
	if ((e = getenv(xdgvar)) != NULL && *e == '/') {
		if (asprintf(&p, "%s/mailcase%s", e, leaf) < 0)
			return NULL;
		return p;
	}
	if ((e = getenv("HOME")) == NULL || *e == '\0')
		return NULL;
	if (asprintf(&p, "%s/%s/mailcase%s", e, homedir, leaf) < 0)
		return NULL;
	return p;
}
