#!/bin/bash
# /usr/local/bin/docker-entrypoint.sh of the offline mariadb image: the
# conventions of the official image, on Debian's mariadb-server.
#
# On the first start with an empty /var/lib/mysql it creates the database
# from MARIADB_ROOT_PASSWORD (or MARIADB_ALLOW_EMPTY_ROOT_PASSWORD,
# MARIADB_RANDOM_ROOT_PASSWORD), MARIADB_ROOT_HOST (default %),
# MARIADB_DATABASE, MARIADB_USER and MARIADB_PASSWORD (the MYSQL_* spellings
# and the *_FILE variants work too), runs /docker-entrypoint-initdb.d/*.sh,
# *.sql and *.sql.gz|xz|zst on a server that listens on no port, then starts
# the real server. Arguments that begin with '-' are options for mariadbd.
set -eo pipefail

log() { printf '%s [Entrypoint]: %s\n' "$(date --rfc-3339=seconds)" "$*"; }
die() {
    log "ERROR: $*" >&2
    exit 1
}

# VAR from $VAR, $VAR_FILE, or the MYSQL_ spelling of either.
env_get() {
    local var=$1 alt=MYSQL_${1#MARIADB_} v=
    local file=${var}_FILE altfile=${alt}_FILE
    [ -n "${!var:-}" ] && [ -n "${!file:-}" ] && die "both $var and $file are set"
    if [ -n "${!var:-}" ]; then
        v=${!var}
    elif [ -n "${!file:-}" ]; then
        v=$(<"${!file}")
    elif [ -n "${!alt:-}" ]; then
        v=${!alt}
    elif [ -n "${!altfile:-}" ]; then
        v=$(<"${!altfile}")
    fi
    printf '%s' "$v"
}

# A string as an SQL literal's contents.
sql_escape() {
    local s=${1//\\/\\\\}
    printf '%s' "${s//\'/\\\'}"
}

datadir=/var/lib/mysql
socket=/run/mysqld/mysqld.sock

if [ "${1:0:1}" = - ]; then
    set -- mariadbd "$@"
fi
case "$1" in mariadbd | mysqld) ;; *) exec "$@" ;; esac

# As root: own the data and socket directories, then run as mysql.
if [ "$(id -u)" = 0 ]; then
    mkdir -p "$datadir" /run/mysqld
    find "$datadir" /run/mysqld \! -user mysql -exec chown mysql:mysql '{}' +
    exec setpriv --reuid=mysql --regid=mysql --init-groups "$BASH_SOURCE" "$@"
fi

if [ ! -d "$datadir/mysql" ]; then
    root_pw=$(env_get MARIADB_ROOT_PASSWORD)
    root_host=$(env_get MARIADB_ROOT_HOST)
    root_host=${root_host:-%}
    db=$(env_get MARIADB_DATABASE)
    user=$(env_get MARIADB_USER)
    pw=$(env_get MARIADB_PASSWORD)
    allow_empty=$(env_get MARIADB_ALLOW_EMPTY_ROOT_PASSWORD)
    random=$(env_get MARIADB_RANDOM_ROOT_PASSWORD)
    if [ -z "$root_pw" ] && [ -z "$allow_empty" ] && [ -z "$random" ]; then
        die "the database is uninitialized and no root password is given:" \
            "set one of MARIADB_ROOT_PASSWORD, MARIADB_ALLOW_EMPTY_ROOT_PASSWORD," \
            "MARIADB_RANDOM_ROOT_PASSWORD"
    fi
    if [ -n "$random" ]; then
        root_pw=$(tr -dc 'A-Za-z0-9' </dev/urandom | head -c 32 || true)
        log "GENERATED ROOT PASSWORD: $root_pw"
    fi
    [ -n "$user" ] && [ "$user" = root ] && die "MARIADB_USER must not be root"
    [ -n "$user" ] && [ -z "$pw" ] && die "MARIADB_USER is set but MARIADB_PASSWORD is not"

    log "initializing the database in $datadir"
    mariadb-install-db --datadir="$datadir" --auth-root-authentication-method=normal \
        --skip-test-db --skip-name-resolve --default-time-zone=SYSTEM >/dev/null
    log "starting a server without networking for the initialization"
    "$@" --skip-networking --socket="$socket" --wsrep_on=OFF \
        --loose-innodb_buffer_pool_load_at_startup=0 &
    pid=$!
    for i in $(seq 300); do
        mariadb-admin --socket="$socket" -uroot ping >/dev/null 2>&1 && break
        kill -0 "$pid" 2>/dev/null || die "the server exited during the initialization"
        sleep 0.1
    done
    [ "$i" -lt 300 ] || die "the server did not start within 30 seconds"

    sql() { mariadb --protocol=socket --socket="$socket" -uroot "$@"; }
    {
        echo "SET @@SESSION.SQL_LOG_BIN=0;"
        echo "DELETE FROM mysql.global_priv WHERE user = '' OR (user = 'root' AND host NOT IN ('localhost'));"
        echo "FLUSH PRIVILEGES;"
        echo "ALTER USER 'root'@'localhost' IDENTIFIED BY '$(sql_escape "$root_pw")';"
        if [ "$root_host" != localhost ]; then
            echo "CREATE USER 'root'@'$(sql_escape "$root_host")' IDENTIFIED BY '$(sql_escape "$root_pw")';"
            echo "GRANT ALL ON *.* TO 'root'@'$(sql_escape "$root_host")' WITH GRANT OPTION;"
        fi
        [ -n "$db" ] && echo "CREATE DATABASE IF NOT EXISTS \`${db//\`/\`\`}\`;"
        if [ -n "$user" ]; then
            echo "CREATE USER '$(sql_escape "$user")'@'%' IDENTIFIED BY '$(sql_escape "$pw")';"
            [ -n "$db" ] && echo "GRANT ALL ON \`${db//\`/\`\`}\`.* TO '$(sql_escape "$user")'@'%';"
        fi
        echo "FLUSH PRIVILEGES;"
    } | sql || die "could not set up the users and the database"

    export MYSQL_PWD=$root_pw
    dbarg=()
    [ -n "$db" ] && dbarg=(--database="$db")
    for f in /docker-entrypoint-initdb.d/*; do
        [ -e "$f" ] || continue
        case "$f" in
        *.sh)
            log "running $f"
            if [ -x "$f" ]; then "$f"; else . "$f"; fi
            ;;
        *.sql)
            log "running $f"
            sql "${dbarg[@]}" <"$f"
            ;;
        *.sql.gz)
            log "running $f"
            gzip -dc "$f" | sql "${dbarg[@]}"
            ;;
        *.sql.xz)
            log "running $f"
            xz -dc "$f" | sql "${dbarg[@]}"
            ;;
        *.sql.zst)
            log "running $f"
            zstd -dc "$f" | sql "${dbarg[@]}"
            ;;
        *) log "ignoring $f" ;;
        esac
    done
    unset MYSQL_PWD

    log "stopping the initialization server"
    kill "$pid"
    wait "$pid" || true
    log "the database is ready; starting the server"
fi

exec "$@"
