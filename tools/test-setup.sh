#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# Prepare this machine for sgconductor's functional tests (run as root).
#
# Installs ZooKeeper, memcached and etcd from Debian's packages if they are
# missing, makes sure PostgreSQL, MariaDB, RabbitMQ, Redis, ZooKeeper,
# memcached and etcd listen on 127.0.0.1 (starting the ones that do not, on
# 127.0.0.1 only), then creates the test user
# sgconductor/sgconductor on both databases, allowed to create and drop
# databases named sgconductor*, and the database sgconductor_test that the
# functional tests connect to in order to create their own; then starts
# the three-controller lab of tools/ha-lab.sh (a RabbitMQ cluster, a Galera
# cluster and a ZooKeeper ensemble on ports of their own).
#
# Idempotent: running it again changes nothing and succeeds.
#
# Environment:
#   SGCONDUCTOR_SETUP_TIMEOUT  seconds to wait for each server (default 60)

set -euo pipefail

TIMEOUT=${SGCONDUCTOR_SETUP_TIMEOUT:-60}
# State of the servers this script starts itself.
STATE_DIR=/var/lib/sgconductor-test
DB_USER=sgconductor
DB_PASSWORD=sgconductor
DB_NAME=sgconductor_test

say() { echo "test-setup: $*"; }
die() { echo "test-setup: ERROR: $*" >&2; exit 1; }

# True if something accepts TCP connections on 127.0.0.1:$1.
listening() {
    timeout 2 bash -c "exec 3<>/dev/tcp/127.0.0.1/$1" 2>/dev/null
}

not_listening() {
    ! listening "$1"
}

# wait_for NAME CHECK-COMMAND...: poll CHECK-COMMAND until it succeeds or
# TIMEOUT seconds have passed.
wait_for() {
    local name=$1
    shift
    local deadline=$((SECONDS + TIMEOUT))
    until "$@" >/dev/null 2>&1; do
        if ((SECONDS >= deadline)); then
            die "$name did not answer within ${TIMEOUT}s (check: $*)"
        fi
        sleep 1
    done
}

# ensure_server NAME PORT READY-COMMAND START-COMMAND...
ensure_server() {
    local name=$1 port=$2 ready=$3
    shift 3
    if listening "$port"; then
        say "$name already listens on 127.0.0.1:$port"
    else
        say "$name is not listening on 127.0.0.1:$port; starting it: $*"
        "$@" || die "could not start $name ($*)"
    fi
    wait_for "$name on 127.0.0.1:$port" listening "$port"
    wait_for "$name" bash -c "$ready"
    say "$name is ready"
}

pg_start() {
    local version
    version=$(ls /etc/postgresql | sort -V | tail -n 1)
    [[ -n "$version" ]] || die "no cluster under /etc/postgresql"
    pg_ctlcluster --skip-systemctl-redirect "$version" main start
}

mariadb_start() {
    # /run is a tmpfs: the socket directory may be gone after a reboot.
    install -d -o mysql -g mysql /run/mysqld
    start-stop-daemon --start --oknodo --background --exec /usr/sbin/mariadbd
}

rabbitmq_start() {
    rabbitmq-server -detached
}

redis_start() {
    install -d /var/lib/redis /var/log/redis
    redis-server --daemonize yes --bind 127.0.0.1 -::1 --port 6379 \
        --save "" --appendonly no --dir /var/lib/redis \
        --logfile /var/log/redis/ci.log
}

# --- Liveness backends for the tooz servicegroup driver.
install_packages() {
    local missing=()
    command -v memcached >/dev/null || missing+=(memcached)
    command -v etcd >/dev/null || missing+=(etcd-server)
    command -v curl >/dev/null || missing+=(curl)
    # TLS in front of RabbitMQ for tests/functional/test_tls.py
    command -v stunnel4 >/dev/null || missing+=(stunnel4)
    # Skewed clocks for tests/functional/test_clock_skew.py
    command -v faketime >/dev/null || missing+=(faketime)
    [[ -x /usr/share/zookeeper/bin/zkServer.sh ]] || missing+=(zookeeper)
    ((${#missing[@]})) || return 0
    say "installing ${missing[*]} from Debian's packages"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
        --no-install-recommends "${missing[@]}" >/dev/null
}

ZK_DIR=$STATE_DIR/zookeeper
zkserver() {
    JMXDISABLE=true ZOO_LOG_DIR=$ZK_DIR ZOOPIDFILE=$ZK_DIR/zookeeper.pid \
        /usr/share/zookeeper/bin/zkServer.sh "$1" "$ZK_DIR/zoo.cfg" >/dev/null
}

# Our own config: tickTime 500 ms lets clients ask for 2 s sessions
# (ZooKeeper grants 2 to 20 ticks), no admin server (it would listen on
# every interface), no limit on connections from one address (a simulated
# fleet opens one per service).
zookeeper_config() {
    cat <<CFG
tickTime=500
initLimit=10
syncLimit=5
dataDir=$ZK_DIR/data
clientPort=2181
clientPortAddress=127.0.0.1
maxClientCnxns=0
admin.enableServer=false
4lw.commands.whitelist=ruok
CFG
}

zookeeper_start() {
    install -d "$ZK_DIR/data"
    zookeeper_config >"$ZK_DIR/zoo.cfg"
    zkserver start
}

MEMCACHED_ARGS="-u memcache -l 127.0.0.1 -p 11211 -U 0 -m 64 -c 4096"
MC_DIR=$STATE_DIR/memcached
memcached_start() {
    # memcached writes its pid file after dropping to the memcache user.
    install -d -o memcache "$MC_DIR"
    # shellcheck disable=SC2086
    memcached -d $MEMCACHED_ARGS -P "$MC_DIR/memcached.pid"
    echo "$MEMCACHED_ARGS" >"$MC_DIR/memcached.args"
}

# Restart a server this script started earlier with other settings.
restart_if_changed() {
    if [[ -f $ZK_DIR/zoo.cfg ]] && listening 2181 &&
        ! cmp -s "$ZK_DIR/zoo.cfg" <(zookeeper_config); then
        say "ZooKeeper runs with an old config; stopping it"
        zkserver stop
        wait_for "ZooKeeper to stop" not_listening 2181
    fi
    if [[ -f $MC_DIR/memcached.args ]] && listening 11211 &&
        [[ $(cat "$MC_DIR/memcached.args") != "$MEMCACHED_ARGS" ]]; then
        say "memcached runs with old settings; stopping it"
        kill "$(cat "$MC_DIR/memcached.pid")"
        wait_for "memcached to stop" not_listening 11211
    fi
}

etcd_start() {
    local dir=$STATE_DIR/etcd
    install -d "$dir"
    setsid etcd --name sgconductor-test --data-dir "$dir/data" \
        --listen-client-urls http://127.0.0.1:2379 \
        --advertise-client-urls http://127.0.0.1:2379 \
        --listen-peer-urls http://127.0.0.1:2380 \
        --initial-advertise-peer-urls http://127.0.0.1:2380 \
        --initial-cluster sgconductor-test=http://127.0.0.1:2380 \
        >"$dir/etcd.log" 2>&1 </dev/null &
}

install_packages
restart_if_changed

ensure_server PostgreSQL 5432 'pg_isready -q -h 127.0.0.1 -p 5432' pg_start
ensure_server MariaDB 3306 'mariadb-admin -uroot ping' mariadb_start
ensure_server RabbitMQ 5672 'rabbitmq-diagnostics -q check_port_listener 5672' \
    rabbitmq_start
ensure_server Redis 6379 'redis-cli -h 127.0.0.1 -p 6379 ping | grep -q PONG' \
    redis_start
ensure_server ZooKeeper 2181 \
    'echo ruok | timeout 2 bash -c "exec 3<>/dev/tcp/127.0.0.1/2181; cat >&3; cat <&3" | grep -q imok' \
    zookeeper_start
ensure_server memcached 11211 \
    'printf "version\r\n" | timeout 2 bash -c "exec 3<>/dev/tcp/127.0.0.1/11211; cat >&3; head -c 7 <&3" | grep -q VERSION' \
    memcached_start
ensure_server etcd 2379 'curl -fsS http://127.0.0.1:2379/health | grep -q true' \
    etcd_start

# --- RabbitMQ: a user whose password tests/functional/test_secrets.py
# looks for in every log and error (keep in sync with its SECRET_BROKER_*).
SECRET_BROKER_USER=sgconductor-secrets
SECRET_BROKER_PASSWORD=Rabbit-S3cret-5d81
rabbitmqctl -q add_user "$SECRET_BROKER_USER" "$SECRET_BROKER_PASSWORD" \
    >/dev/null 2>&1 \
    || rabbitmqctl -q change_password "$SECRET_BROKER_USER" \
        "$SECRET_BROKER_PASSWORD" >/dev/null
rabbitmqctl -q set_permissions -p / "$SECRET_BROKER_USER" '.*' '.*' '.*' \
    >/dev/null

# --- MariaDB: root through the unix socket (root over TCP may be refused).
say "MariaDB: user $DB_USER@127.0.0.1 and @localhost, database $DB_NAME"
mariadb -uroot <<SQL
CREATE USER IF NOT EXISTS '$DB_USER'@'127.0.0.1' IDENTIFIED BY '$DB_PASSWORD';
CREATE USER IF NOT EXISTS '$DB_USER'@'localhost' IDENTIFIED BY '$DB_PASSWORD';
ALTER USER '$DB_USER'@'127.0.0.1' IDENTIFIED BY '$DB_PASSWORD';
ALTER USER '$DB_USER'@'localhost' IDENTIFIED BY '$DB_PASSWORD';
GRANT ALL PRIVILEGES ON \`sgconductor%\`.* TO '$DB_USER'@'127.0.0.1';
GRANT ALL PRIVILEGES ON \`sgconductor%\`.* TO '$DB_USER'@'localhost';
CREATE DATABASE IF NOT EXISTS \`$DB_NAME\` CHARACTER SET utf8mb4;
FLUSH PRIVILEGES;
SQL

# --- PostgreSQL: the superuser through the unix socket.
psql_admin() {
    if psql -U postgres -d postgres -Atqc 'SELECT 1' >/dev/null 2>&1; then
        psql -v ON_ERROR_STOP=1 -U postgres -d postgres -q "$@"
    else
        runuser -u postgres -- psql -v ON_ERROR_STOP=1 -d postgres -q "$@"
    fi
}

say "PostgreSQL: role $DB_USER (LOGIN CREATEDB), database $DB_NAME"
psql_admin <<SQL
DO \$\$
BEGIN
    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '$DB_USER') THEN
        CREATE ROLE $DB_USER LOGIN PASSWORD '$DB_PASSWORD' CREATEDB;
    ELSE
        ALTER ROLE $DB_USER LOGIN PASSWORD '$DB_PASSWORD' CREATEDB;
    END IF;
END
\$\$;
SELECT 'CREATE DATABASE $DB_NAME OWNER $DB_USER'
    WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = '$DB_NAME')
\gexec
ALTER DATABASE $DB_NAME OWNER TO $DB_USER;
SQL

# --- Prove the test user really gets in over TCP, as the tests will.
say "checking that $DB_USER can log in over TCP"
MYSQL_PWD=$DB_PASSWORD mariadb -h 127.0.0.1 -P 3306 -u "$DB_USER" "$DB_NAME" \
    -e 'SELECT 1' >/dev/null \
    || die "MariaDB: $DB_USER cannot log in to $DB_NAME over 127.0.0.1"
PGPASSWORD=$DB_PASSWORD psql -h 127.0.0.1 -p 5432 -U "$DB_USER" -d "$DB_NAME" \
    -Atqc 'SELECT 1' >/dev/null \
    || die "PostgreSQL: $DB_USER cannot log in to $DB_NAME over 127.0.0.1"

# --- The three-controller lab of the HA tests (tests/functional/test_ha.py):
# RabbitMQ, Galera and ZooKeeper clusters of their own, on other ports.
"$(dirname "$0")/ha-lab.sh" start

say "done"
