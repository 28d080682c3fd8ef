/*
 * winmail.dat: Outlook wraps attachments in TNEF, and a phishing report
 * from an Outlook user hides its payload there.  libytnef reads it.
 */
#include <stdio.h>
#include <string.h>

#include <ytnef.h>
#include <mapi.h>
#include <mapidefs.h>

#include "limits.h"
#include "mailparse.h"

int
tnef_unpack(const void *data, size_t len,
    void (*fn)(const char *, const void *, size_t, void *), void *arg)
{
	TNEFStruct tnef;
	Attachment *a;
	char name[1024];
	const variableLength *v;
	int n = 0;

	if (len < 6 || len > 0x7fffffff)
		return -1;
	memset(&tnef, 0, sizeof(tnef));
	TNEFInitialize(&tnef);
	tnef.Debug = 0;
	if (TNEFParseMemory((BYTE *)data, (long)len, &tnef) != 0) {
		TNEFFree(&tnef);
		return -1;
	}
	for (a = tnef.starting_attach.next; a != NULL && n < MAX_TNEF_FILES;
	    a = a->next) {
		if (a->FileData.size <= 0 || a->FileData.data == NULL)
			continue;
		/* The long file name if there is one, else the 8.3 title. */
		v = MAPIFindProperty(&a->MAPI, PROP_TAG(PT_STRING8,
		    PR_ATTACH_LONG_FILENAME));
		if (v == MAPI_UNDEFINED || v == NULL || v->size <= 0)
			v = a->TransportFilename.size > 0 ?
			    &a->TransportFilename : &a->Title;
		name[0] = '\0';
		if (v->size > 0 && v->data != NULL) {
			size_t k = (size_t)v->size < sizeof(name) - 1 ?
			    (size_t)v->size : sizeof(name) - 1;

			memcpy(name, v->data, k);
			name[k] = '\0';
		}
		fn(name[0] ? name : NULL, a->FileData.data,
		    (size_t)a->FileData.size, arg);
		n++;
	}
	TNEFFree(&tnef);
	return n;
}
