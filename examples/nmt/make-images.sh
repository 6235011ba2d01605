#!/usr/bin/env bash
# Makes, offline from Debian's packages (debootstrap), images that stand in
# for the official ones the nmt stack uses, under the same names, and loads
# them into berth:
#   make-images.sh [BERTH [SERVICE[=IMAGE]...]]   (as root; needs Debian's archive)
#
#   infra   debian:bookworm-slim   Debian minbase; CMD bash
#   mysql   mariadb:10.11          mariadb-server 10.11 with an entrypoint that
#                                  honours MARIADB_ROOT_PASSWORD, MARIADB_DATABASE,
#                                  MARIADB_USER/PASSWORD and
#                                  /docker-entrypoint-initdb.d; CMD mariadbd
#   tomcat  tomcat:10.1            tomcat10 (10.1) laid out as CATALINA_HOME=
#                                  /usr/local/tomcat, webapps/ empty;
#                                  CMD catalina.sh run
#   nginx   nginx:1.25             Debian's nginx (1.22) configured as the
#                                  official image: sites in /etc/nginx/conf.d,
#                                  templates, /docker-entrypoint.d, logs on the
#                                  container's output, STOPSIGNAL SIGQUIT
#
# Names follow the compose file's variables (NMT_INFRA_IMAGE, NMT_MYSQL_IMAGE,
# NMT_TOMCAT_IMAGE, NMT_NGINX_IMAGE) or SERVICE=IMAGE arguments, so a
# mirror's names work too. With SERVICE arguments only those are made.
#
# The root filesystems with their packages installed are cached as tarballs
# in $NMT_CACHE (default /var/tmp/berth-nmt); later runs only add the
# entrypoints and configuration and import. NMT_NO_IMPORT=1 only fills the
# cache. Everything runs in a private mount namespace: the chroots' /proc
# mounts never reach the host.
set -euo pipefail
shopt -s inherit_errexit
berth=${1:-berth}
[ $# -gt 0 ] && shift
cache=${NMT_CACHE:-/var/tmp/berth-nmt}
mirror=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
suite=${DEBIAN_SUITE:-bookworm}
here=$(cd "$(dirname "$0")" && pwd)
[ "$(id -u)" = 0 ] || {
    echo "make-images.sh: run it as root" >&2
    exit 1
}
if [ "${NMT_PRIVATE:-}" != 1 ]; then
    export NMT_PRIVATE=1
    exec unshare --mount --propagation private --fork bash "$0" "$berth" "$@"
fi

declare -A image=(
    [infra]=${NMT_INFRA_IMAGE:-debian:bookworm-slim}
    [mysql]=${NMT_MYSQL_IMAGE:-mariadb:10.11}
    [tomcat]=${NMT_TOMCAT_IMAGE:-tomcat:10.1}
    [nginx]=${NMT_NGINX_IMAGE:-nginx:1.25}
)
declare -A packages=(
    [infra]=""
    [mysql]="mariadb-server mariadb-client"
    [tomcat]="tomcat10"
    [nginx]="nginx-light gettext-base"
)
services=()
for a in "$@"; do
    s=${a%%=*}
    [ -n "${packages[$s]+set}" ] || {
        echo "make-images.sh: no service '$s' (infra, mysql, tomcat, nginx)" >&2
        exit 2
    }
    [ "$a" = "$s" ] || image[$s]=${a#*=}
    services+=("$s")
done
[ ${#services[@]} -gt 0 ] || services=(infra mysql tomcat nginx)

mkdir -p "$cache"
work=$(mktemp -d "${TMPDIR:-/var/tmp}/berth-nmt-build.XXXXXX")
trap 'umount "$work"/pkg-*/proc 2>/dev/null || true; rm -rf "$work"' EXIT

base() {
    [ -d "$work/base" ] && return
    if ! command -v debootstrap >/dev/null; then
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends debootstrap
    fi
    debootstrap --variant=minbase "$suite" "$work/base" "$mirror"
    # packages must not try to start their services inside the chroot
    printf '#!/bin/sh\nexit 101\n' >"$work/base/usr/sbin/policy-rc.d"
    chmod +x "$work/base/usr/sbin/policy-rc.d"
}

# packages SERVICE: $cache/SERVICE.tar, the base with the service's packages
packages() {
    local s=$1 r=$work/pkg-$1
    [ -f "$cache/$s.tar" ] && return
    base
    cp -a "$work/base" "$r"
    if [ -n "${packages[$s]}" ]; then
        mount -t proc proc "$r/proc"
        chroot "$r" env DEBIAN_FRONTEND=noninteractive apt-get update -qq
        # shellcheck disable=SC2086
        chroot "$r" env DEBIAN_FRONTEND=noninteractive \
            apt-get install -y -qq --no-install-recommends ${packages[$s]}
        chroot "$r" apt-get clean
        umount "$r/proc"
    fi
    rm -rf "$r"/var/lib/apt/lists/* "$r/usr/sbin/policy-rc.d"
    tar -C "$r" --numeric-owner -cf "$cache/$s.tar.tmp" .
    mv "$cache/$s.tar.tmp" "$cache/$s.tar"
    rm -rf "$r"
}

# Each conventions_SERVICE ROOT adds what makes the image behave as the
# official one and prints its --change instructions.
path='ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin'

conventions_infra() {
    echo "$path"
    echo 'CMD ["bash"]'
}

conventions_mysql() {
    local r=$1
    # the package initialised a data directory; the entrypoint makes it
    # from the environment on the first start instead
    rm -rf "$r"/var/lib/mysql
    mkdir -p "$r/var/lib/mysql" "$r/run/mysqld" "$r/docker-entrypoint-initdb.d"
    chroot "$r" chown mysql:mysql /var/lib/mysql /run/mysqld
    # listen on every address unless told otherwise, as the official image
    sed -i 's/^\(bind-address\)/#\1/' "$r/etc/mysql/mariadb.conf.d/50-server.cnf"
    printf '[mariadbd]\nhost-cache-size = 0\nskip-name-resolve\n' >"$r/etc/mysql/conf.d/docker.cnf"
    install -m 0755 "$here/offline/mariadb-entrypoint.sh" "$r/usr/local/bin/docker-entrypoint.sh"
    echo "$path"
    echo 'ENTRYPOINT ["docker-entrypoint.sh"]'
    echo 'CMD ["mariadbd"]'
    echo 'VOLUME /var/lib/mysql'
    echo 'EXPOSE 3306'
}

conventions_tomcat() {
    local r=$1 t=$1/usr/local/tomcat
    mkdir -p "$t/conf" "$t/webapps" "$t/logs" "$t/temp" "$t/work"
    ln -sfn /usr/share/tomcat10/bin "$t/bin"
    ln -sfn /usr/share/tomcat10/lib "$t/lib"
    cp -a "$r/etc/tomcat10/." "$t/conf/"
    local java=/usr/lib/jvm/default-java
    [ -e "$r$java" ] || {
        echo "make-images.sh: tomcat: no $java in the image" >&2
        return 1
    }
    echo 'ENV PATH=/usr/local/tomcat/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin'
    echo 'ENV CATALINA_HOME=/usr/local/tomcat'
    echo "ENV JAVA_HOME=$java"
    echo 'WORKDIR /usr/local/tomcat'
    echo 'CMD ["catalina.sh", "run"]'
    echo 'EXPOSE 8080'
}

conventions_nginx() {
    local r=$1
    chroot "$r" useradd --system --no-create-home --home-dir /nonexistent \
        --shell /usr/sbin/nologin nginx
    rm -rf "$r/etc/nginx/sites-enabled" "$r/etc/nginx/sites-available"
    install -m 0644 "$here/offline/nginx.conf" "$r/etc/nginx/nginx.conf"
    install -m 0644 "$here/offline/nginx-default.conf" "$r/etc/nginx/conf.d/default.conf"
    mkdir -p "$r/usr/share/nginx/html" "$r/docker-entrypoint.d"
    [ -f "$r/usr/share/nginx/html/index.html" ] ||
        printf '<!DOCTYPE html>\n<html><body><h1>Welcome to nginx!</h1></body></html>\n' \
            >"$r/usr/share/nginx/html/index.html"
    ln -sf /dev/stdout "$r/var/log/nginx/access.log"
    ln -sf /dev/stderr "$r/var/log/nginx/error.log"
    install -m 0755 "$here/offline/nginx-entrypoint.sh" "$r/docker-entrypoint.sh"
    echo "$path"
    echo 'ENTRYPOINT ["/docker-entrypoint.sh"]'
    echo 'CMD ["nginx", "-g", "daemon off;"]'
    echo 'STOPSIGNAL SIGQUIT'
    echo 'EXPOSE 80'
}

for s in "${services[@]}"; do
    packages "$s"
done
[ "${NMT_NO_IMPORT:-}" = 1 ] && exit 0
for s in "${services[@]}"; do
    r=$work/img-$s
    mkdir -p "$r"
    tar -C "$r" --numeric-owner -xf "$cache/$s.tar"
    changes=$("conventions_$s" "$r")
    args=()
    while IFS= read -r c; do
        args+=(--change "$c")
    done <<<"$changes"
    tar -C "$r" --numeric-owner -cf "$work/$s.tar" .
    rm -rf "$r"
    "$berth" import -m "made offline from Debian's packages" "${args[@]}" \
        "$work/$s.tar" "${image[$s]}" >/dev/null
    rm -f "$work/$s.tar"
    echo "made ${image[$s]} ($s) offline from Debian's packages"
done
