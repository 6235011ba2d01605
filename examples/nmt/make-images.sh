#!/usr/bin/env bash
# Makes the nmt images from Debian's packages, with debootstrap, and loads
# them into berth:
#   make-images.sh [BERTH]         (as root; needs Debian's archive)
#
#   berth-nmt/base     Debian minbase (infra)
#   berth-nmt/mysql    + mariadb-server, a database `nmt` with one row and a
#                      user for tomcat, listening on 127.0.0.1:3306
#   berth-nmt/tomcat   + tomcat10 and the MariaDB JDBC driver, one JSP page
#                      that reads the row, connector on 127.0.0.1:8080
#   berth-nmt/nginx    + nginx proxying / to tomcat over loopback and
#                      serving /shared/ from the shared volume
#
# Root filesystems are cached as tarballs in $NMT_CACHE (default
# /var/tmp/berth-nmt), so a second run only imports them (NMT_NO_IMPORT=1:
# only make the tarballs). Everything runs in
# a private mount namespace: the chroots' /proc mounts never reach the host.
set -euo pipefail
berth=${1:-berth}
cache=${NMT_CACHE:-/var/tmp/berth-nmt}
mirror=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
suite=${DEBIAN_SUITE:-bookworm}
here=$(cd "$(dirname "$0")" && pwd)
[ "$(id -u)" = 0 ] || { echo "make-images.sh: run it as root" >&2; exit 1; }
if [ "${NMT_PRIVATE:-}" != 1 ]; then
    export NMT_PRIVATE=1
    exec unshare --mount --propagation private --fork bash "$0" "$@"
fi
if ! command -v debootstrap >/dev/null; then
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends debootstrap
fi
mkdir -p "$cache"
work=$(mktemp -d /var/tmp/berth-nmt-build.XXXXXX)
trap 'umount "$work"/img-*/proc 2>/dev/null || true; rm -rf "$work"' EXIT

base() {
    [ -d "$work/base" ] && return
    debootstrap --variant=minbase "$suite" "$work/base" "$mirror"
    # packages must not try to start their services inside the chroot
    printf '#!/bin/sh\nexit 101\n' >"$work/base/usr/sbin/policy-rc.d"
    chmod +x "$work/base/usr/sbin/policy-rc.d"
}

# rootfs NAME PACKAGES...: base plus packages, then the hook nmt_NAME
rootfs() {
    local name=$1
    shift
    [ -f "$cache/$name.tar" ] && return
    base
    cp -a "$work/base" "$work/img-$name"
    mount -t proc proc "$work/img-$name/proc"
    if [ $# -gt 0 ]; then
        chroot "$work/img-$name" env DEBIAN_FRONTEND=noninteractive apt-get update -qq
        chroot "$work/img-$name" env DEBIAN_FRONTEND=noninteractive \
            apt-get install -y -qq --no-install-recommends "$@"
    fi
    "nmt_$name" "$work/img-$name"
    chroot "$work/img-$name" apt-get clean
    umount "$work/img-$name/proc"
    rm -f "$work/img-$name/usr/sbin/policy-rc.d"
    tar -C "$work/img-$name" --numeric-owner -cf "$cache/$name.tar.tmp" .
    mv "$cache/$name.tar.tmp" "$cache/$name.tar"
}

nmt_base() { :; }

nmt_mysql() {
    local r=$1
    cat >"$r/etc/mysql/nmt-init.sql" <<'SQL'
CREATE DATABASE IF NOT EXISTS nmt;
CREATE TABLE IF NOT EXISTS nmt.greeting (id INT PRIMARY KEY, text VARCHAR(100));
INSERT IGNORE INTO nmt.greeting VALUES (1, 'hello from mysql');
CREATE USER IF NOT EXISTS 'tomcat'@'127.0.0.1' IDENTIFIED BY 'tomcat';
GRANT SELECT ON nmt.* TO 'tomcat'@'127.0.0.1';
SQL
    cat >"$r/usr/local/bin/start-mysql" <<'SH'
#!/bin/sh
set -e
mkdir -p /run/mysqld && chown mysql:mysql /run/mysqld
[ -d /var/lib/mysql/mysql ] || mariadb-install-db --user=mysql >/dev/null
exec mariadbd --user=mysql --bind-address=127.0.0.1 --skip-name-resolve \
    --init-file=/etc/mysql/nmt-init.sql
SH
    chmod +x "$r/usr/local/bin/start-mysql"
}

nmt_tomcat() {
    local r=$1
    ln -sf /usr/share/java/mariadb-java-client.jar "$r/usr/share/tomcat10/lib/mariadb-java-client.jar"
    sed -i 's|<Connector port="8080"|<Connector address="127.0.0.1" port="8080"|' \
        "$r/etc/tomcat10/server.xml"
    # the shutdown port is loopback already; no AJP
    mkdir -p "$r/var/lib/tomcat10/webapps/ROOT"
    cp "$here/index.jsp" "$r/var/lib/tomcat10/webapps/ROOT/index.jsp"
    rm -f "$r/var/lib/tomcat10/webapps/ROOT/index.html"
    mkdir -p "$r/var/lib/tomcat10/logs" "$r/var/lib/tomcat10/temp" "$r/var/lib/tomcat10/work"
}

nmt_nginx() {
    local r=$1
    cat >"$r/etc/nginx/sites-available/default" <<'NGINX'
server {
    listen 80 default_server;
    location /shared/ { alias /shared/; }
    location / {
        proxy_pass http://127.0.0.1:8080;
        proxy_set_header Host $host;
    }
}
NGINX
    # logs to the container's output
    ln -sf /dev/stdout "$r/var/log/nginx/access.log"
    ln -sf /dev/stderr "$r/var/log/nginx/error.log"
}

rootfs base
rootfs mysql mariadb-server mariadb-client
rootfs tomcat tomcat10 libmariadb-java wget
rootfs nginx nginx-light
[ "${NMT_NO_IMPORT:-}" = 1 ] && exit 0
for name in base mysql tomcat nginx; do
    "$berth" import "$cache/$name.tar" "berth-nmt/$name:latest"
done
