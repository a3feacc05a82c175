#!/usr/bin/env bash
# Make sure the PostgreSQL, MariaDB and Redis servers that the tests use are answering on loopback,
# starting whichever is down with this machine's own commands. Exits non-zero, naming the
# service, when one still does not answer after the wait (DSR_SERVICES_TIMEOUT, 30 s by default).
set -uo pipefail

PG_HOST=127.0.0.1
PG_PORT=5432
MARIADB_HOST=127.0.0.1
MARIADB_PORT=3306
REDIS_HOST=127.0.0.1
REDIS_PORT=6379
TIMEOUT=${DSR_SERVICES_TIMEOUT:-30}

postgres_answers() {
    pg_isready --quiet --host="$PG_HOST" --port="$PG_PORT" --timeout=2
}

mariadb_answers() {
    # `ping` succeeds as soon as the server answers, even before the credentials are checked.
    mysqladmin --no-defaults --host="$MARIADB_HOST" --port="$MARIADB_PORT" --user=root \
        --connect-timeout=2 ping >/dev/null 2>&1
}

redis_answers() {
    redis-cli -h "$REDIS_HOST" -p "$REDIS_PORT" ping 2>/dev/null | grep -q PONG
}

start_postgres() {
    local version
    version=$(ls /etc/postgresql 2>/dev/null | sort -V | tail -n 1)
    if [[ -z "$version" ]]; then
        echo "ensure-services: no PostgreSQL cluster under /etc/postgresql" >&2
        return 1
    fi
    echo "ensure-services: starting PostgreSQL $version/main" >&2
    pg_ctlcluster --skip-systemctl-redirect "$version" main start
}

start_mariadb() {
    echo "ensure-services: starting MariaDB" >&2
    # The socket and pid folder lives in /run, which is empty after a reboot.
    install -d -o mysql -g mysql -m 0755 /run/mysqld
    # my.cnf says `user = mysql`: started as root, mariadbd drops to that user by itself.
    start-stop-daemon --start --oknodo --background --exec /usr/sbin/mariadbd
}

start_redis() {
    echo "ensure-services: starting Redis" >&2
    # As this machine starts it: nothing kept on disk (the tests' counters are throwaway).
    redis-server --daemonize yes --bind 127.0.0.1 -::1 --port "$REDIS_PORT" --save "" \
        --appendonly no --dir /var/lib/redis --logfile /var/log/redis/ci.log
}

# wait_for NAME CHECK: poll CHECK until it succeeds or the shared deadline passes.
wait_for() {
    local name=$1 check=$2
    while ! "$check"; do
        if (( SECONDS >= deadline )); then
            echo "ensure-services: $name did not answer within ${TIMEOUT} s" >&2
            return 1
        fi
        sleep 0.5
    done
}

SECONDS=0
deadline=$TIMEOUT
failed=()

postgres_answers || start_postgres || true
mariadb_answers || start_mariadb || true
redis_answers || start_redis || true

wait_for "PostgreSQL at $PG_HOST:$PG_PORT" postgres_answers || failed+=("PostgreSQL at $PG_HOST:$PG_PORT")
wait_for "MariaDB at $MARIADB_HOST:$MARIADB_PORT" mariadb_answers \
    || failed+=("MariaDB at $MARIADB_HOST:$MARIADB_PORT")
wait_for "Redis at $REDIS_HOST:$REDIS_PORT" redis_answers || failed+=("Redis at $REDIS_HOST:$REDIS_PORT")

if (( ${#failed[@]} )); then
    for service in "${failed[@]}"; do
        echo "ensure-services: $service is not running and could not be started" >&2
    done
    exit 1
fi
echo "ensure-services: PostgreSQL, MariaDB and Redis are answering"
