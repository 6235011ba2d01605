#!/bin/sh
# /docker-entrypoint.sh of the offline nginx image: the conventions of the
# official image, on Debian's nginx. When the command is nginx it first
# turns each /etc/nginx/templates/*.template (NGINX_ENVSUBST_TEMPLATE_DIR)
# into /etc/nginx/conf.d/NAME (NGINX_ENVSUBST_OUTPUT_DIR), substituting the
# environment's variables, then runs the executable
# /docker-entrypoint.d/*.sh in order; NGINX_ENTRYPOINT_QUIET_LOGS silences it.
set -e

log() { [ -n "${NGINX_ENTRYPOINT_QUIET_LOGS:-}" ] || echo "$0: $*"; }

case "$1" in
nginx | nginx-debug)
    tdir=${NGINX_ENVSUBST_TEMPLATE_DIR:-/etc/nginx/templates}
    odir=${NGINX_ENVSUBST_OUTPUT_DIR:-/etc/nginx/conf.d}
    suffix=${NGINX_ENVSUBST_TEMPLATE_SUFFIX:-.template}
    if [ -d "$tdir" ]; then
        # only the variables that are set, so nginx's own $host stays
        vars=$(env | sed -n 's/^\([A-Za-z_][A-Za-z0-9_]*\)=.*/${\1}/p' | tr '\n' ' ')
        for t in "$tdir"/*"$suffix"; do
            [ -f "$t" ] || continue
            out=$odir/$(basename "$t" "$suffix")
            log "making $out from $t"
            envsubst "$vars" <"$t" >"$out"
        done
    fi
    for s in /docker-entrypoint.d/*.sh; do
        [ -f "$s" ] || continue
        if [ -x "$s" ]; then
            log "running $s"
            "$s"
        else
            log "ignoring $s, not executable"
        fi
    done
    log "ready for start up"
    ;;
esac
exec "$@"
