#!/bin/bash
# codematch when the case store cannot be locked: every record still goes
# out, unchanged but for a case error, one stderr line each, exit 75
# (retry later), no case written; the same input run again links as usual.
# flock(2) is made to fail by a small preloaded library built here.
cd "$(dirname "$0")/.." || exit 1
CM=bin/codematch
[ -x "$CM" ] || { echo "1..0 # SKIP $CM not built"; exit 0; }
command -v "${CC:-cc}" > /dev/null || { echo "1..0 # SKIP no C compiler"; exit 0; }
# shellcheck source=tests/lib/codematch-env.sh
. tests/lib/codematch-env.sh
S=$T/spool

cat > "$T/noflock.c" <<'C'
#include <errno.h>
#include <sys/file.h>

/* Every request for a lock fails as on a file system without locks. */
int
flock(int fd, int op)
{
	(void)fd;
	if (op & (LOCK_SH | LOCK_EX)) {
		errno = ENOLCK;
		return -1;
	}
	return 0;
}
C
"${CC:-cc}" -shared -fPIC -o "$T/noflock.so" "$T/noflock.c" ||
    { echo "1..0 # SKIP cannot build the flock shim"; exit 0; }

for seed in lock-a lock-b lock-c; do
	jq -nc --arg id "$(printf %s "$seed" | sha256sum | cut -c1-64)" \
	    --arg seed "$seed" \
	    '{v:1,kind:"message",id:$id,message_id:($seed+"@mail.example"),
	      subject:("report " + $seed),from:[{name:"",addr:"alice@corp.example"}],
	      to:[{name:"",addr:"soc@corp.example"}],cc:[],text:"body",html:null,
	      attachments:[]}'
done > "$T/in"

LD_PRELOAD=$T/noflock.so "$CM" -d "$S" < "$T/in" > "$T/out" 2> "$T/err"
rc=$?
ok "exit 75 (EX_TEMPFAIL) when the store cannot be locked" '[ "$rc" -eq 75 ]'
ok "every record goes out, in order" \
    '[ "$(jq -r .message_id "$T/out" | tr "\n" " ")" = "lock-a@mail.example lock-b@mail.example lock-c@mail.example " ]'
ok "each carries a case-store error naming the lock" \
    '[ "$(jq -c "[.case.action, .case.error.code, (.case.error.text | startswith(\"lock: \"))]" "$T/out" | sort -u)" = "[\"error\",\"case-store\",true]" ]'
ok "the records are otherwise as they came in" \
    '[ "$(jq -c "del(.case)" "$T/out")" = "$(jq -c . "$T/in")" ]'
ok "one stderr line per record" '[ "$(grep -c "lock: No locks available" "$T/err")" -eq 3 ] && [ "$(wc -l < "$T/err")" -eq 3 ]'
ok "no case was written" '[ -z "$(find "$S" -path "*/cases/*" -type f 2>/dev/null)" ]'

"$CM" -d "$S" < "$T/in" > "$T/out2" 2> "$T/err2"
rc=$?
ok "run again with locks working: exit 0" '[ "$rc" -eq 0 ]'
ok "run again: each record creates its case" \
    '[ "$(jq -r .case.action "$T/out2" | sort -u)" = created ]'
echo "1..$n"
