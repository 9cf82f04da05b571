#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# A three-controller lab on 127.0.0.1 for sgconductor's high-availability
# functional tests (run as root): a RabbitMQ cluster, a Galera cluster of
# MariaDB servers and a ZooKeeper ensemble, three nodes each, with ports and
# data of their own next to the single servers of tools/test-setup.sh
# (PostgreSQL 5432, MariaDB 3306, RabbitMQ 5672/25672, Redis 6379,
# ZooKeeper 2181, memcached 11211, etcd 2379/2380), which it never touches.
#
#   RabbitMQ   nodes sgha1..3@localhost: AMQP 5691-5693, distribution
#              25691-25693 (epmd on 4369 is shared with the single broker),
#              cluster_partition_handling = pause_minority, guest/guest.
#   Galera     MariaDB 3321-3323, group communication 4571-4573,
#              IST 4581-4583, rsync state transfer 4591-4593; user
#              sgconductor/sgconductor (ALL on `sgconductor%`.*) and the
#              database sgconductor_test.
#   ZooKeeper  clients 2191-2193, quorum 2891-2893, election 3891-3893,
#              tickTime 500 ms (clients may ask for 2 s sessions).
#
# Everything listens on 127.0.0.1 only.  Every command is idempotent; see
# usage() below (or --help) for the commands.
#
# Galera bootstrap: the first node of a cluster starts with
# --wsrep-new-cluster only when no node of the lab runs.  After a clean full
# stop (`stop` stops node 3, 2 then 1) the node whose grastate.dat says
# `safe_to_bootstrap: 1` bootstraps.  If none says so (every node crashed or
# was killed) the node with the most recent transaction (grastate.dat's
# seqno, else the position `mariadbd --wsrep-recover` finds) is marked safe
# and bootstraps, node 1 on a tie; a fresh lab bootstraps node 1.  A node
# that starts while another runs always joins (IST or rsync SST), never
# bootstraps.  If nodes run but none is in the primary component (two of
# three were killed), `start` and `node-start` make the surviving node with
# the most recent transaction primary again (pc.bootstrap).
#
# For the tests: a Galera cluster that loses a node stalls writes for about
# 5 s (evs.suspect_timeout); every table needs a primary key.  A RabbitMQ
# node left alone (two of three down) pauses under pause_minority: its
# process runs but its AMQP port is closed (`status` says "paused").
#
# Logs, in the state dir: rabbitmq/sghaN/log/sghaN@localhost.log (and
# startup.log, join.log), galera/nodeN/mysqld.log (and mariadbd.out,
# recover.log, install.log), zookeeper/nodeN/zookeeper.log.
#
# Environment:
#   SGCONDUCTOR_HA_DIR      state dir: data, configs, logs
#                           (default /var/lib/sgconductor-ha)
#   SGCONDUCTOR_HA_TIMEOUT  seconds to wait for each step (default 120)

set -euo pipefail

PROG=ha-lab
LAB=$(realpath -m "${SGCONDUCTOR_HA_DIR:-/var/lib/sgconductor-ha}")
TIMEOUT=${SGCONDUCTOR_HA_TIMEOUT:-120}
KINDS=(rabbitmq galera zookeeper)
NODES=(1 2 3)
MARKER=.sgconductor-ha-lab

DB_USER=sgconductor
DB_PASSWORD=sgconductor
DB_NAME=sgconductor_test

[[ $TIMEOUT =~ ^[1-9][0-9]*$ ]] ||
    { echo "$PROG: SGCONDUCTOR_HA_TIMEOUT must be a number of seconds" >&2; exit 2; }

usage() {
    cat <<EOF
Usage: tools/ha-lab.sh COMMAND [ARGS]

A three-node RabbitMQ cluster, Galera cluster and ZooKeeper ensemble on
127.0.0.1 for sgconductor's HA functional tests.  KIND is rabbitmq, galera
or zookeeper; N is 1, 2 or 3.

  start [KIND]...        start what does not run (default: all three kinds)
                         and wait until each cluster is formed and usable
  stop [KIND]...         stop cleanly, keeping the data (default: all)
  destroy                stop everything and remove the state dir
  status [--json]        per node: running, port, role; and the URLs
  node-stop KIND N       stop node N cleanly and wait until it is gone
  node-kill KIND N       SIGKILL node N's server and wait until it is gone
  node-start KIND N      start node N and wait until it is back in its cluster
  leader zookeeper       print N of the ZooKeeper leader
  leader rabbitmq QUEUE [VHOST]
                         print N of the node leading that quorum queue
  -h, --help             this help

URLs:
  transport_url = $(rmq_transport_url)
  galera node N: mysql+pymysql://$DB_USER:$DB_PASSWORD@127.0.0.1:332N/$DB_NAME?charset=utf8mb4
  $(zk_url)

Environment: SGCONDUCTOR_HA_DIR (state dir, default /var/lib/sgconductor-ha),
SGCONDUCTOR_HA_TIMEOUT (seconds to wait for each step, default 120).
EOF
}

say() { echo "$PROG: $*"; }
die() { echo "$PROG: ERROR: $*" >&2; exit 1; }
usage_error() { echo "$PROG: $* (see --help)" >&2; exit 2; }

# True if something accepts TCP connections on 127.0.0.1:$1.
listening() {
    timeout 2 bash -c "exec 3<>/dev/tcp/127.0.0.1/$1" 2>/dev/null
}

not_listening() {
    ! listening "$1"
}

# True if anything listens on TCP port $1, on any address.
port_in_use() {
    [[ -n $(ss -Hltn "sport = :$1") ]]
}

# check_ports_free WHAT PORT...: die unless every PORT is free.
check_ports_free() {
    local what=$1 port
    shift
    for port in "$@"; do
        if port_in_use "$port"; then
            die "$what: port $port is already in use: $(ss -Hltnp "sport = :$port" | head -n 1 | tr -s ' ')"
        fi
    done
}

# wait_for NAME CHECK-COMMAND...: poll CHECK-COMMAND until it succeeds or
# TIMEOUT seconds have passed.  A check that returns 3 means it never will
# (its server process is gone): give up at once.  WAIT_LOG names a log
# file to point at on failure.
WAIT_LOG=
wait_for() {
    local name=$1 rc
    shift
    local deadline=$((SECONDS + TIMEOUT))
    while true; do
        rc=0
        "$@" >/dev/null 2>&1 || rc=$?
        ((rc == 0)) && return 0
        if ((rc == 3)); then
            die "$name: the server process is gone${WAIT_LOG:+ (see $WAIT_LOG)}"
        fi
        if ((SECONDS >= deadline)); then
            die "$name did not happen within ${TIMEOUT}s${WAIT_LOG:+ (see $WAIT_LOG)}"
        fi
        sleep 0.5
    done
}

# True if process $1 has VAR=VALUE $2 in its environment.
proc_has_env() {
    local env
    env=$(tr '\0' '\n' <"/proc/$1/environ" 2>/dev/null) || return 1
    grep -qxF -- "$2" <<<"$env"
}

# True if process $1's command line contains the string $2.
proc_cmdline_has() {
    local cmd
    cmd=$(tr '\0' ' ' <"/proc/$1/cmdline" 2>/dev/null) || return 1
    [[ $cmd == *"$2"* ]]
}

# kill_wait WHAT SIGNAL PID: send SIGNAL to PID and wait until it is gone.
kill_wait() {
    local what=$1 sig=$2 pid=$3
    kill "-$sig" "$pid" 2>/dev/null || true
    wait_for "$what to exit" bash -c "! kill -0 $pid 2>/dev/null"
}

# spawn KEY DIR LOG COMMAND...: start a server in DIR in its own session,
# detached from our stdio and lock, and remember its pid as SPAWNED[KEY]:
# until the server shows up under its own name (exec may take a moment),
# that pid tells whether it is still on its way.
declare -A SPAWNED=()
spawn() {
    local key=$1 dir=$2 log=$3
    shift 3
    (cd "$dir" && exec setsid "$@" >>"$log" 2>&1 </dev/null 9>&-) &
    SPAWNED[$key]=$!
}

spawned_alive() {
    local pid=${SPAWNED[$1]:-}
    [[ -n $pid ]] && kill -0 "$pid" 2>/dev/null
}

json_str() {
    local s=${1//\\/\\\\}
    printf '"%s"' "${s//\"/\\\"}"
}

need_root() {
    ((EUID == 0)) || die "must run as root"
}

# Serialize the commands that change the lab.
lock() {
    need_root
    install -d -m 755 "$LAB"
    touch "$LAB/$MARKER"
    exec 9>>"$LAB/.lock"
    flock -w "$TIMEOUT" 9 || die "another $PROG command still holds $LAB/.lock"
}

install_packages() {
    ((${#@})) || return 0
    say "installing $* from Debian's packages"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
        --no-install-recommends "$@" >/dev/null
}

check_node() {
    [[ ${1:-} =~ ^[123]$ ]] || usage_error "node must be 1, 2 or 3, not '${1:-}'"
}

# ---------------------------------------------------------------- RabbitMQ

RMQ_DIR=$LAB/rabbitmq
RMQ_BIN=/usr/lib/rabbitmq/bin
# Distribution (server and CLI) on loopback only.
RMQ_DIST_ARGS='-kernel inet_dist_use_interface {127,0,0,1}'
# No busy waiting of idle schedulers: keeps the idle CPU low.
RMQ_SCHED_ARGS='+sbwt none +sbwtdcpu none +sbwtdio none'

rmq_name() { echo "sgha$1@localhost"; }
rmq_port() { echo $((5690 + $1)); }
rmq_dist_port() { echo $((25690 + $1)); }
rmq_dir() { echo "$RMQ_DIR/sgha$1"; }

rmq_transport_url() {
    local n hosts=()
    for n in "${NODES[@]}"; do
        hosts+=("guest:guest@127.0.0.1:$(rmq_port "$n")")
    done
    local IFS=,
    echo "rabbit://${hosts[*]}/"
}

# The environment of both the servers and rabbitmqctl: our own Erlang
# cookie (in HOME), an empty rabbitmq-env.conf so /etc/rabbitmq is not read.
rmq_env() {
    env HOME="$RMQ_DIR/home" \
        RABBITMQ_CONF_ENV_FILE="$RMQ_DIR/rabbitmq-env.conf" \
        RABBITMQ_CTL_ERL_ARGS="$RMQ_DIST_ARGS" \
        ERL_EPMD_ADDRESS=127.0.0.1 \
        "$@"
}

rmqctl() {
    local n=$1
    shift
    rmq_env timeout "$TIMEOUT" "$RMQ_BIN/rabbitmqctl" -q -n "$(rmq_name "$n")" "$@"
}

# The pid of node $1's beam.smp (not that of a rabbitmqctl).
rmq_pid() {
    local p
    for p in $(pgrep -x beam.smp); do
        if proc_has_env "$p" "RABBITMQ_NODENAME=$(rmq_name "$1")" &&
            proc_cmdline_has "$p" " -s rabbit boot "; then
            echo "$p"
            return 0
        fi
    done
    return 1
}

# Node $1 has booted: its AMQP listener accepts connections.
rmq_up() {
    rmq_pid "$1" >/dev/null || spawned_alive "rabbitmq/$1" || return 3
    listening "$(rmq_port "$1")"
}

rmq_prepare() {
    local n d
    command -v "$RMQ_BIN/rabbitmq-server" >/dev/null ||
        die "RabbitMQ is not installed (apt-get install rabbitmq-server)"
    install -d -m 755 "$RMQ_DIR" "$RMQ_DIR/conf.d"
    install -d -m 700 "$RMQ_DIR/home"
    if [[ ! -s $RMQ_DIR/home/.erlang.cookie ]]; then
        (umask 077 && head -c 16 /dev/urandom | od -An -tx1 | tr -d ' \n' \
            | tr a-f A-F >"$RMQ_DIR/home/.erlang.cookie")
    fi
    chmod 400 "$RMQ_DIR/home/.erlang.cookie"
    : >"$RMQ_DIR/rabbitmq-env.conf"
    echo '[].' >"$RMQ_DIR/enabled_plugins"
    for n in "${NODES[@]}"; do
        d=$(rmq_dir "$n")
        install -d "$d/mnesia" "$d/log"
        cat >"$d/rabbitmq.conf" <<CFG
listeners.tcp.1 = 127.0.0.1:$(rmq_port "$n")
distribution.listener.interface = 127.0.0.1
distribution.listener.port_range.min = $(rmq_dist_port "$n")
distribution.listener.port_range.max = $(rmq_dist_port "$n")
loopback_users = none
cluster_partition_handling = pause_minority
log.console = false
log.file.level = info
CFG
    done
}

# Start node $1's server (does not wait).
rmq_launch() {
    local n=$1 d
    d=$(rmq_dir "$n")
    rmq_pid "$n" >/dev/null && return 0
    check_ports_free "RabbitMQ node $n" "$(rmq_port "$n")" "$(rmq_dist_port "$n")"
    say "RabbitMQ: starting $(rmq_name "$n") on 127.0.0.1:$(rmq_port "$n")"
    spawn "rabbitmq/$n" "$d" "$d/log/startup.log" env \
        HOME="$RMQ_DIR/home" \
        RABBITMQ_CONF_ENV_FILE="$RMQ_DIR/rabbitmq-env.conf" \
        RABBITMQ_CTL_ERL_ARGS="$RMQ_DIST_ARGS" \
        ERL_EPMD_ADDRESS=127.0.0.1 \
        RABBITMQ_NODENAME="$(rmq_name "$n")" \
        RABBITMQ_NODE_IP_ADDRESS=127.0.0.1 \
        RABBITMQ_NODE_PORT="$(rmq_port "$n")" \
        RABBITMQ_DIST_PORT="$(rmq_dist_port "$n")" \
        RABBITMQ_CONFIG_FILE="$d/rabbitmq.conf" \
        RABBITMQ_CONFIG_FILES="$RMQ_DIR/conf.d" \
        RABBITMQ_ADVANCED_CONFIG_FILE="$RMQ_DIR/advanced.config" \
        RABBITMQ_ENABLED_PLUGINS_FILE="$RMQ_DIR/enabled_plugins" \
        RABBITMQ_MOTD_FILE="$RMQ_DIR/motd" \
        RABBITMQ_MNESIA_BASE="$d/mnesia" \
        RABBITMQ_LOG_BASE="$d/log" \
        RABBITMQ_PID_FILE="$d/sgha$n.pid" \
        RABBITMQ_SCHEDULER_BUSY_WAIT_THRESHOLD=none \
        RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS="$RMQ_SCHED_ARGS $RMQ_DIST_ARGS" \
        ERL_CRASH_DUMP="$d/log/erl_crash.dump" \
        "$RMQ_BIN/rabbitmq-server"
}

# rmq_cluster_nodes N FIELD: the node numbers listed under FIELD
# (running_nodes or disk_nodes) in node N's cluster_status.
rmq_cluster_nodes() {
    local out
    out=$(rmqctl "$1" cluster_status --formatter json 2>/dev/null) || return 1
    out=$(grep -o "\"$2\":\[[^]]*\]" <<<"$out") || return 0
    { grep -o 'sgha[0-9]@localhost' <<<"$out" || true; } \
        | sed 's/^sgha//; s/@localhost$//' | sort -u | tr '\n' ' '
}

# Node $1 runs and node $2's cluster_status lists it in running_nodes.
rmq_in_cluster() {
    local running
    rmq_up "$1" || return
    running=$(rmq_cluster_nodes "$2" running_nodes) || return 1
    [[ " $running " == *" $1 "* ]]
}

rmq_formed() {
    local n running
    for n in "${NODES[@]}"; do
        rmq_up "$n" || return
    done
    running=$(rmq_cluster_nodes 1 running_nodes) || return 1
    [[ $running == "1 2 3 " ]]
}

# Make node $1 a member of the cluster node $2 belongs to, unless it is.
rmq_join() {
    local n=$1 to=$2 disk
    disk=$(rmq_cluster_nodes "$n" disk_nodes) ||
        die "RabbitMQ: cluster_status of $(rmq_name "$n") failed"
    [[ " $disk " == *" $to "* ]] && return 0
    say "RabbitMQ: $(rmq_name "$n") joins $(rmq_name "$to")"
    # join_cluster logs harmless errors about connection tracking tables
    # of the stopped app: keep its chatter in the node's log directory.
    {
        rmqctl "$n" stop_app &&
            rmqctl "$n" join_cluster "$(rmq_name "$to")" &&
            rmqctl "$n" start_app
    } >>"$(rmq_dir "$n")/log/join.log" 2>&1 ||
        die "RabbitMQ: $(rmq_name "$n") could not join $(rmq_name "$to") (see $(rmq_dir "$n")/log/join.log)"
}

rabbitmq_launch() {
    local n
    rmq_prepare
    for n in "${NODES[@]}"; do
        rmq_launch "$n"
    done
}

# Wait until the three nodes run as one cluster, joining the fresh ones.
rabbitmq_settle() {
    local n
    if rmq_formed; then
        say "RabbitMQ: cluster of 3 running: $(rmq_transport_url)"
        return 0
    fi
    for n in "${NODES[@]}"; do
        WAIT_LOG="$(rmq_dir "$n")/log/$(rmq_name "$n").log" \
            wait_for "RabbitMQ $(rmq_name "$n") to boot" rmq_up "$n"
    done
    for n in 2 3; do
        rmq_join "$n" 1
    done
    wait_for "RabbitMQ cluster of 3 running nodes" rmq_formed
    say "RabbitMQ: cluster of 3 running: $(rmq_transport_url)"
}

rmq_node_start() {
    local n=$1 m other=
    rmq_prepare
    rmq_launch "$n"
    WAIT_LOG="$(rmq_dir "$n")/log/$(rmq_name "$n").log" \
        wait_for "RabbitMQ $(rmq_name "$n") to boot" rmq_up "$n"
    for m in "${NODES[@]}"; do
        if [[ $m != "$n" ]] && rmq_up "$m"; then
            other=$m
            break
        fi
    done
    if [[ -n $other ]]; then
        rmq_join "$n" "$other"
        wait_for "RabbitMQ $(rmq_name "$n") to run in the cluster" \
            rmq_in_cluster "$n" "$other"
    fi
    say "RabbitMQ: $(rmq_name "$n") runs${other:+ in the cluster}"
}

rmq_node_stop() {
    local n=$1 pid
    pid=$(rmq_pid "$n") || return 0
    say "RabbitMQ: stopping $(rmq_name "$n")"
    rmqctl "$n" stop >/dev/null 2>&1 || kill -TERM "$pid" 2>/dev/null || true
    kill_wait "RabbitMQ $(rmq_name "$n")" 0 "$pid"
}

# stop_in_parallel WHAT NODE-STOP-FUNCTION: stop every node at once.
stop_in_parallel() {
    local what=$1 stop=$2 n pids=()
    for n in "${NODES[@]}"; do
        "$stop" "$n" &
        pids+=($!)
    done
    for n in "${pids[@]}"; do
        wait "$n" || die "$what: a node did not stop"
    done
}

rabbitmq_stop() {
    # In parallel: under pause_minority the last node would pause anyway.
    stop_in_parallel RabbitMQ rmq_node_stop
}

rmq_node_kill() {
    local n=$1 pid
    pid=$(rmq_pid "$n") || { say "RabbitMQ: $(rmq_name "$n") does not run"; return 0; }
    say "RabbitMQ: killing $(rmq_name "$n") (beam.smp pid $pid)"
    kill_wait "RabbitMQ $(rmq_name "$n")" KILL "$pid"
    wait_for "RabbitMQ port $(rmq_port "$n") to close" not_listening "$(rmq_port "$n")"
}

# leader rabbitmq QUEUE [VHOST]
rmq_leader() {
    local queue=$1 vhost=${2:-/} n node='' out line
    for n in "${NODES[@]}"; do
        if rmq_up "$n" 2>/dev/null; then
            node=$n
            break
        fi
    done
    [[ -n $node ]] || die "RabbitMQ: no node of the lab runs"
    out=$(rmqctl "$node" list_queues -p "$vhost" name type leader \
        --no-table-headers 2>/dev/null) ||
        die "RabbitMQ: list_queues on $(rmq_name "$node") failed"
    line=$(awk -F'\t' -v q="$queue" '$1 == q' <<<"$out")
    [[ -n $line ]] || die "RabbitMQ: no queue '$queue' in vhost '$vhost'"
    [[ $(cut -f2 <<<"$line") == quorum ]] ||
        die "RabbitMQ: queue '$queue' is not a quorum queue"
    line=$(cut -f3 <<<"$line")
    [[ $line =~ ^sgha([0-9])@localhost$ ]] ||
        die "RabbitMQ: quorum queue '$queue' has no leader now ('$line')"
    echo "${BASH_REMATCH[1]}"
}

# ------------------------------------------------------------------ Galera

GAL_DIR=$LAB/galera
GALERA_LIB=/usr/lib/galera/libgalera_smm.so
MARIADBD=/usr/sbin/mariadbd

gal_dir() { echo "$GAL_DIR/node$1"; }
gal_port() { echo $((3320 + $1)); }
gal_gcomm_port() { echo $((4570 + $1)); }
gal_ist_port() { echo $((4580 + $1)); }
gal_sst_port() { echo $((4590 + $1)); }
gal_url() {
    echo "mysql+pymysql://$DB_USER:$DB_PASSWORD@127.0.0.1:$(gal_port "$1")/$DB_NAME?charset=utf8mb4"
}

gal_config() {
    local n=$1 d
    d=$(gal_dir "$n")
    cat <<CFG
# Galera node $n of tools/ha-lab.sh (written by it on each start).
[mariadbd]
user = mysql
datadir = $d/data
socket = $d/mysqld.sock
pid-file = $d/mysqld.pid
log-error = $d/mysqld.log
port = $(gal_port "$n")
bind-address = 127.0.0.1
skip-name-resolve
character-set-server = utf8mb4
collation-server = utf8mb4_general_ci
max_connections = 300
default_storage_engine = InnoDB
binlog_format = ROW
innodb_autoinc_lock_mode = 2
innodb_buffer_pool_size = 64M
innodb_log_file_size = 32M
innodb_flush_log_at_trx_commit = 2
performance_schema = OFF
wsrep_on = ON
wsrep_provider = $GALERA_LIB
wsrep_cluster_name = sgconductor-ha
wsrep_cluster_address = gcomm://127.0.0.1:4571,127.0.0.1:4572,127.0.0.1:4573
wsrep_node_name = sgha$n
wsrep_node_address = 127.0.0.1
wsrep_provider_options = "gmcast.listen_addr=tcp://127.0.0.1:$(gal_gcomm_port "$n");ist.recv_addr=127.0.0.1:$(gal_ist_port "$n");gcache.size=64M"
wsrep_sst_method = rsync
wsrep_sst_receive_address = 127.0.0.1:$(gal_sst_port "$n")
CFG
}

gal_prepare() {
    local n d missing=()
    [[ -x $MARIADBD ]] || die "MariaDB is not installed (apt-get install mariadb-server)"
    [[ -e $GALERA_LIB ]] || missing+=(galera-4)
    command -v rsync >/dev/null || missing+=(rsync)
    install_packages "${missing[@]}"
    install -d -m 755 "$GAL_DIR"
    for n in "${NODES[@]}"; do
        d=$(gal_dir "$n")
        install -d -o mysql -g mysql -m 750 "$d" "$d/data"
        gal_config "$n" >"$d/my.cnf.new"
        chmod 644 "$d/my.cnf.new"
        mv "$d/my.cnf.new" "$d/my.cnf"
    done
}

# The pid of node $1's mariadbd.
gal_pid() {
    local p
    for p in $(pgrep -x mariadbd); do
        if proc_cmdline_has "$p" "--defaults-file=$(gal_dir "$1")/my.cnf"; then
            echo "$p"
            return 0
        fi
    done
    return 1
}

gal_running_count() {
    local n c=0
    for n in "${NODES[@]}"; do
        gal_pid "$n" >/dev/null && c=$((c + 1))
    done
    echo "$c"
}

gal_sql() {
    local n=$1
    shift
    mariadb --no-defaults -S "$(gal_dir "$n")/mysqld.sock" -uroot -N -B \
        --connect-timeout=3 "$@"
}

# gal_wsrep N: "state|cluster_size|cluster_status|last_committed" of node N
# (the state may contain spaces: "Joining: receiving State Transfer").
gal_wsrep() {
    local out
    out=$(gal_sql "$1" -e "SHOW GLOBAL STATUS WHERE Variable_name IN
        ('wsrep_local_state_comment', 'wsrep_cluster_size',
         'wsrep_cluster_status', 'wsrep_last_committed')" 2>/dev/null) || return 1
    awk -F'\t' '{v[$1] = $2}
        END {printf "%s|%s|%s|%s\n", v["wsrep_local_state_comment"],
             v["wsrep_cluster_size"], v["wsrep_cluster_status"],
             v["wsrep_last_committed"]}' <<<"$out"
}

# gal_synced N [SIZE]: node N is Synced in the primary component (of SIZE
# nodes, by default as many as lab nodes run).
gal_synced() {
    local n=$1 size=${2:-} state csize status last
    gal_pid "$n" >/dev/null || spawned_alive "galera/$n" || return 3
    IFS='|' read -r state csize status last < <(gal_wsrep "$n") || return 1
    [[ -n $size ]] || size=$(gal_running_count)
    [[ $state == Synced && $status == Primary && $csize == "$size" ]]
}

gal_grastate() {
    local f
    f="$(gal_dir "$1")/data/grastate.dat"
    [[ -f $f ]] || return 0
    sed -n "s/^$2:[[:space:]]*//p" "$f"
}

gal_initialized() {
    [[ -d $(gal_dir "$1")/data/mysql ]]
}

# Print node $1's last committed position (uuid:seqno) from a
# `mariadbd --wsrep-recover` run, if grastate.dat does not have it.
gal_recover() {
    local n=$1 d seqno out
    d=$(gal_dir "$n")
    gal_initialized "$n" || return 0
    seqno=$(gal_grastate "$n" seqno)
    [[ $seqno == -1 ]] || return 0
    say "Galera: node $n stopped uncleanly; recovering its position" >&2
    rm -f "$d/recover.log"
    out=$("$MARIADBD" --defaults-file="$d/my.cnf" --wsrep-recover \
        --log-error="$d/recover.log" 2>&1 >/dev/null || true)
    out=$(sed -n 's/.*WSREP: Recovered position: *//p' "$d/recover.log" | tail -n 1)
    [[ $out == *:* ]] || die "Galera: could not recover node $n's position (see $d/recover.log)"
    echo "$out"
}

gal_set_safe_to_bootstrap() {
    local f
    f="$(gal_dir "$1")/data/grastate.dat"
    [[ -f $f ]] || return 0
    sed -i 's/^safe_to_bootstrap:.*/safe_to_bootstrap: 1/' "$f"
}

# Set GAL_BOOT to the node a fully stopped cluster bootstraps from (see
# the header); GAL_POS keeps the positions recovered on the way.
declare -A GAL_POS=()
GAL_BOOT=
gal_pick_bootstrap() {
    local n seqno best='' best_seqno=-2
    for n in "${NODES[@]}"; do
        if [[ $(gal_grastate "$n" safe_to_bootstrap) == 1 ]]; then
            GAL_BOOT=$n
            return 0
        fi
    done
    for n in "${NODES[@]}"; do
        gal_initialized "$n" || continue
        seqno=$(gal_grastate "$n" seqno)
        if [[ $seqno == -1 ]]; then
            GAL_POS[$n]=$(gal_recover "$n")
            seqno=${GAL_POS[$n]##*:}
        fi
        [[ $seqno =~ ^-?[0-9]+$ ]] || seqno=-1
        if ((seqno > best_seqno)); then
            best=$n
            best_seqno=$seqno
        fi
    done
    GAL_BOOT=${best:-1}
}

# The running nodes see exactly each other: a killed node is out of their
# view (after evs.suspect_timeout, 5 s).  A node that restarts before that
# takes 15 s or more to be let in again.
gal_view_settled() {
    local n count state size status last
    count=$(gal_running_count)
    for n in "${NODES[@]}"; do
        gal_pid "$n" >/dev/null || continue
        IFS='|' read -r state size status last < <(gal_wsrep "$n") || return 1
        [[ $size == "$count" ]] || return 1
    done
}

# gal_launch N bootstrap|join
gal_launch() {
    local n=$1 mode=$2 d pos args=()
    d=$(gal_dir "$n")
    check_ports_free "Galera node $n" "$(gal_port "$n")" "$(gal_gcomm_port "$n")" \
        "$(gal_ist_port "$n")" "$(gal_sst_port "$n")"
    # Leftovers of a killed server (a stale socket is harmless, a stale
    # pid file makes the next shutdown wait on the wrong process).
    rm -f "$d/mysqld.pid"
    args=(--defaults-file="$d/my.cnf")
    if [[ $mode == bootstrap ]]; then
        if ! gal_initialized "$n"; then
            say "Galera: initializing node $n's data directory"
            mariadb-install-db --no-defaults --user=mysql --datadir="$d/data" \
                --auth-root-authentication-method=socket --skip-test-db \
                >"$d/install.log" 2>&1 ||
                die "Galera: mariadb-install-db failed (see $d/install.log)"
        fi
        gal_set_safe_to_bootstrap "$n"
        args+=(--wsrep-new-cluster)
    fi
    if [[ $mode == join ]]; then
        wait_for "Galera: the running nodes to drop node $n from their view" \
            gal_view_settled
    fi
    pos=${GAL_POS[$n]:-}
    [[ -n $pos ]] || pos=$(gal_recover "$n")
    [[ -z $pos ]] || args+=(--wsrep-start-position="$pos")
    say "Galera: starting node $n on 127.0.0.1:$(gal_port "$n")" \
        "($([[ $mode == bootstrap ]] && echo "bootstraps the cluster" || echo joins))"
    spawn "galera/$n" "$d" "$d/mariadbd.out" "$MARIADBD" "${args[@]}"
}

gal_wait_synced() {
    WAIT_LOG="$(gal_dir "$1")/mysqld.log" \
        wait_for "Galera node $1 to be Synced" gal_synced "$1" "${2:-}"
}

# If nodes run but none is in the primary component (the others were
# killed), make the one with the most recent transaction primary again.
gal_ensure_primary() {
    local n state='' size='' status='' last='' best='' best_last=-2 deadline
    deadline=$((SECONDS + 10))
    while true; do
        best=
        best_last=-2
        for n in "${NODES[@]}"; do
            gal_pid "$n" >/dev/null || continue
            state='' size='' status='' last=''
            IFS='|' read -r state size status last < <(gal_wsrep "$n") || true
            [[ $status == Primary ]] && return 0
            [[ $last =~ ^-?[0-9]+$ ]] || last=-1
            if ((last > best_last)); then
                best=$n
                best_last=$last
            fi
        done
        [[ -n $best ]] || return 0
        ((SECONDS < deadline)) || break
        sleep 1
    done
    say "Galera: no running node is in the primary component; node $best" \
        "(last committed $best_last) bootstraps it again"
    gal_sql "$best" -e "SET GLOBAL wsrep_provider_options='pc.bootstrap=YES'" ||
        die "Galera: could not make node $best primary"
}

gal_user_ok() {
    MYSQL_PWD=$DB_PASSWORD mariadb --no-defaults -h 127.0.0.1 -P "$(gal_port "$1")" \
        -u "$DB_USER" --connect-timeout=3 "$DB_NAME" -e 'SELECT 1' >/dev/null 2>&1
}

gal_users() {
    local n
    if gal_user_ok 1 && gal_user_ok 2 && gal_user_ok 3; then
        return 0
    fi
    say "Galera: user $DB_USER@127.0.0.1 and @localhost, database $DB_NAME"
    gal_sql 1 <<SQL || die "Galera: could not create user $DB_USER"
CREATE USER IF NOT EXISTS '$DB_USER'@'127.0.0.1' IDENTIFIED BY '$DB_PASSWORD';
CREATE USER IF NOT EXISTS '$DB_USER'@'localhost' IDENTIFIED BY '$DB_PASSWORD';
GRANT ALL PRIVILEGES ON \`sgconductor%\`.* TO '$DB_USER'@'127.0.0.1';
GRANT ALL PRIVILEGES ON \`sgconductor%\`.* TO '$DB_USER'@'localhost';
CREATE DATABASE IF NOT EXISTS \`$DB_NAME\` CHARACTER SET utf8mb4;
SQL
    for n in "${NODES[@]}"; do
        wait_for "Galera node $n to let $DB_USER in" gal_user_ok "$n"
    done
}

galera_start() {
    local n
    gal_prepare
    if (($(gal_running_count) == 0)); then
        gal_pick_bootstrap
        n=$GAL_BOOT
        gal_launch "$n" bootstrap
        gal_wait_synced "$n" 1
    else
        gal_ensure_primary
    fi
    for n in "${NODES[@]}"; do
        gal_pid "$n" >/dev/null && continue
        gal_launch "$n" join
        gal_wait_synced "$n"
    done
    for n in "${NODES[@]}"; do
        gal_wait_synced "$n" 3
    done
    gal_users
    say "Galera: 3 nodes Synced: 127.0.0.1:3321, 127.0.0.1:3322, 127.0.0.1:3323"
}

gal_node_start() {
    local n=$1 m
    gal_prepare
    if gal_pid "$n" >/dev/null; then
        :
    elif (($(gal_running_count) == 0)); then
        gal_pick_bootstrap
        m=$GAL_BOOT
        [[ $m == "$n" ]] ||
            die "Galera: no node runs and node $m, not $n, must bootstrap (use: start galera)"
        gal_launch "$n" bootstrap
    else
        gal_ensure_primary
        gal_launch "$n" join
    fi
    gal_wait_synced "$n"
    say "Galera: node $n Synced, cluster size $(gal_running_count)"
}

gal_node_stop() {
    local n=$1 pid
    pid=$(gal_pid "$n") || return 0
    say "Galera: stopping node $n"
    WAIT_LOG="$(gal_dir "$n")/mysqld.log" kill_wait "Galera node $n" TERM "$pid"
}

galera_stop() {
    local n
    # One by one, node 1 last: it will be the one safe to bootstrap.
    for n in 3 2 1; do
        gal_node_stop "$n"
    done
}

gal_node_kill() {
    local n=$1 pid
    pid=$(gal_pid "$n") || { say "Galera: node $n does not run"; return 0; }
    say "Galera: killing node $n (mariadbd pid $pid)"
    kill_wait "Galera node $n" KILL "$pid"
}

# --------------------------------------------------------------- ZooKeeper

ZK_DIR=$LAB/zookeeper
ZK_SERVER=/usr/share/zookeeper/bin/zkServer.sh

zk_dir() { echo "$ZK_DIR/node$1"; }
zk_port() { echo $((2190 + $1)); }
zk_quorum_port() { echo $((2890 + $1)); }
zk_election_port() { echo $((3890 + $1)); }
zk_url() { echo "zookeeper://127.0.0.1:2191,127.0.0.1:2192,127.0.0.1:2193?timeout=2"; }

# tickTime 500 ms lets clients ask for 2 s sessions (ZooKeeper grants 2 to
# 20 ticks); no admin server (it would listen on every interface); no limit
# on connections from one address.
zk_config() {
    local n=$1 m
    cat <<CFG
tickTime=500
initLimit=10
syncLimit=5
dataDir=$(zk_dir "$n")/data
clientPort=$(zk_port "$n")
clientPortAddress=127.0.0.1
maxClientCnxns=0
admin.enableServer=false
4lw.commands.whitelist=srvr,ruok,stat,mntr
quorumListenOnAllIPs=false
autopurge.snapRetainCount=3
autopurge.purgeInterval=1
CFG
    for m in "${NODES[@]}"; do
        echo "server.$m=127.0.0.1:$(zk_quorum_port "$m"):$(zk_election_port "$m")"
    done
}

# The pid of node $1's java.
zk_pid() {
    local p
    for p in $(pgrep -x java); do
        if proc_cmdline_has "$p" "QuorumPeerMain $(zk_dir "$1")/zoo.cfg"; then
            echo "$p"
            return 0
        fi
    done
    return 1
}

# zk_4lw PORT COMMAND: a four-letter-word command's answer.
zk_4lw() {
    # shellcheck disable=SC2016 # expanded by the inner bash
    timeout 3 bash -c 'exec 3<>"/dev/tcp/127.0.0.1/$1" && printf %s "$2" >&3 && cat <&3' \
        _ "$1" "$2" 2>/dev/null
}

# Node $1's mode: leader, follower (or nothing if it does not serve).
zk_mode() {
    local out
    out=$(zk_4lw "$(zk_port "$1")" srvr) || true
    sed -n 's/^Mode: //p' <<<"$out"
}

zk_serving() {
    local mode
    zk_pid "$1" >/dev/null || spawned_alive "zookeeper/$1" || return 3
    mode=$(zk_mode "$1")
    [[ $mode == leader || $mode == follower ]]
}

zk_formed() {
    local n mode leaders=0 followers=0
    for n in "${NODES[@]}"; do
        mode=$(zk_mode "$n")
        [[ $mode == leader ]] && leaders=$((leaders + 1))
        [[ $mode == follower ]] && followers=$((followers + 1))
    done
    ((leaders == 1 && followers == 2))
}

zk_prepare() {
    local n d missing=()
    [[ -x $ZK_SERVER ]] || missing+=(zookeeper)
    install_packages "${missing[@]}"
    for n in "${NODES[@]}"; do
        d=$(zk_dir "$n")
        install -d "$d/data"
        echo "$n" >"$d/data/myid"
        zk_config "$n" >"$d/zoo.cfg"
    done
}

zk_launch() {
    local n=$1 d cp=/usr/share/java/zookeeper.jar
    d=$(zk_dir "$n")
    zk_pid "$n" >/dev/null && return 0
    check_ports_free "ZooKeeper node $n" "$(zk_port "$n")" "$(zk_quorum_port "$n")" \
        "$(zk_election_port "$n")"
    # Debian's zkEnv.sh sets ZOO_LOG_DIR and ZooKeeper logs nowhere (no
    # slf4j binding): run in the foreground (zkServer.sh execs java) with
    # slf4j-simple on the class path (the last -cp wins) and stderr in our
    # own log.
    [[ -e /usr/share/java/slf4j-simple.jar ]] && cp+=:/usr/share/java/slf4j-simple.jar
    say "ZooKeeper: starting node $n on 127.0.0.1:$(zk_port "$n")"
    spawn "zookeeper/$n" "$d" "$d/zookeeper.log" env JMXDISABLE=true \
        ZOO_LOG_DIR="$d" ZOOPIDFILE="$d/zookeeper.pid" \
        JVMFLAGS="-Xms16m -Xmx128m -XX:+UseSerialGC -XX:-UsePerfData -Djava.net.preferIPv4Stack=true -Dzookeeper.log.dir=$d -Dorg.slf4j.simpleLogger.showDateTime=true -Dorg.slf4j.simpleLogger.dateTimeFormat=yyyy-MM-dd'T'HH:mm:ss.SSS -cp $cp" \
        "$ZK_SERVER" start-foreground "$d/zoo.cfg"
    # zkServer.sh start-foreground execs java: this is java's pid.
    echo "${SPAWNED[zookeeper/$n]}" >"$d/zookeeper.pid"
}

zookeeper_launch() {
    local n
    zk_prepare
    for n in "${NODES[@]}"; do
        zk_launch "$n"
    done
}

zookeeper_settle() {
    local n
    for n in "${NODES[@]}"; do
        WAIT_LOG="$(zk_dir "$n")/zookeeper.log" \
            wait_for "ZooKeeper node $n to serve" zk_serving "$n"
    done
    wait_for "ZooKeeper ensemble of one leader and two followers" zk_formed
    say "ZooKeeper: leader is node $(zk_leader_now): $(zk_url)"
}

zk_leader_now() {
    local n
    for n in "${NODES[@]}"; do
        if [[ $(zk_mode "$n") == leader ]]; then
            echo "$n"
            return 0
        fi
    done
    return 1
}

zk_leader() {
    local deadline=$((SECONDS + TIMEOUT))
    until zk_leader_now; do
        ((SECONDS < deadline)) || die "ZooKeeper: no leader within ${TIMEOUT}s"
        sleep 0.5
    done
}

zk_node_start() {
    local n=$1
    zk_prepare
    zk_launch "$n"
    WAIT_LOG="$(zk_dir "$n")/zookeeper.log" \
        wait_for "ZooKeeper node $n to serve" zk_serving "$n"
    say "ZooKeeper: node $n serves as $(zk_mode "$n")"
}

zk_node_stop() {
    local n=$1 pid
    pid=$(zk_pid "$n") || return 0
    say "ZooKeeper: stopping node $n"
    kill_wait "ZooKeeper node $n" TERM "$pid"
    rm -f "$(zk_dir "$n")/zookeeper.pid"
}

zookeeper_stop() {
    stop_in_parallel ZooKeeper zk_node_stop
}

zk_node_kill() {
    local n=$1 pid
    pid=$(zk_pid "$n") || { say "ZooKeeper: node $n does not run"; return 0; }
    say "ZooKeeper: killing node $n (java pid $pid)"
    kill_wait "ZooKeeper node $n" KILL "$pid"
}

# ------------------------------------------------------------------ status

status() {
    local json=$1 n row pid up member running_in disk='' running='' src=''
    local state size cstatus last mode
    local -a rmq_rows=() gal_rows=() zk_rows=()
    # RabbitMQ: membership as the first node that serves sees it.
    for n in "${NODES[@]}"; do
        if rmq_up "$n" 2>/dev/null; then
            src=$n
            break
        fi
    done
    if [[ -n $src ]]; then
        disk=$(rmq_cluster_nodes "$src" disk_nodes 2>/dev/null) || disk=
        running=$(rmq_cluster_nodes "$src" running_nodes 2>/dev/null) || running=
    fi
    for n in "${NODES[@]}"; do
        pid=$(rmq_pid "$n" 2>/dev/null) || pid=
        up=false
        [[ -n $pid ]] && listening "$(rmq_port "$n")" && up=true
        member=false
        [[ " $disk " == *" $n "* ]] && member=true
        running_in=false
        [[ $up == true && " $running " == *" $n "* ]] && running_in=true
        rmq_rows+=("$n $up ${pid:-0} $member $running_in")
        # (pid without listener: booting, or paused under pause_minority)
    done
    for n in "${NODES[@]}"; do
        pid=$(gal_pid "$n" 2>/dev/null) || pid=
        state=- size=0 cstatus=- last=0
        if [[ -n $pid ]]; then
            IFS='|' read -r state size cstatus last < <(gal_wsrep "$n" 2>/dev/null) ||
                state=starting
        fi
        gal_rows+=("$n|$([[ -n $pid ]] && echo true || echo false)|${pid:-0}|${state:--}|${size:-0}|${cstatus:--}")
    done
    for n in "${NODES[@]}"; do
        pid=$(zk_pid "$n" 2>/dev/null) || pid=
        mode=-
        [[ -n $pid ]] && mode=$(zk_mode "$n")
        zk_rows+=("$n $([[ -n $pid ]] && echo true || echo false) ${pid:-0} ${mode:--}")
    done

    if [[ $json == true ]]; then
        local sep
        printf '{"state_dir": %s,\n "rabbitmq": {"transport_url": %s, "nodes": [' \
            "$(json_str "$LAB")" "$(json_str "$(rmq_transport_url)")"
        sep=
        for row in "${rmq_rows[@]}"; do
            read -r n up pid member running_in <<<"$row"
            printf '%s\n  {"node": %s, "name": %s, "port": %s, "dist_port": %s, "running": %s, "paused": %s, "pid": %s, "cluster_member": %s, "running_in_cluster": %s, "url": %s}' \
                "$sep" "$n" "$(json_str "$(rmq_name "$n")")" "$(rmq_port "$n")" \
                "$(rmq_dist_port "$n")" "$up" \
                "$([[ $up == false && $pid != 0 ]] && echo true || echo false)" \
                "$([[ $pid != 0 ]] && echo "$pid" || echo null)" \
                "$member" "$running_in" \
                "$(json_str "rabbit://guest:guest@127.0.0.1:$(rmq_port "$n")/")"
            sep=,
        done
        printf ']},\n "galera": {"nodes": ['
        sep=
        for row in "${gal_rows[@]}"; do
            IFS='|' read -r n up pid state size cstatus <<<"$row"
            printf '%s\n  {"node": %s, "port": %s, "running": %s, "pid": %s, "wsrep_state": %s, "cluster_size": %s, "cluster_status": %s, "url": %s}' \
                "$sep" "$n" "$(gal_port "$n")" "$up" \
                "$([[ $pid != 0 ]] && echo "$pid" || echo null)" \
                "$([[ $state != - ]] && json_str "$state" || echo null)" \
                "$([[ $size =~ ^[0-9]+$ ]] && echo "$size" || echo 0)" \
                "$([[ $cstatus != - ]] && json_str "$cstatus" || echo null)" \
                "$(json_str "$(gal_url "$n")")"
            sep=,
        done
        printf ']},\n "zookeeper": {"url": %s, "nodes": [' "$(json_str "$(zk_url)")"
        sep=
        for row in "${zk_rows[@]}"; do
            read -r n up pid mode <<<"$row"
            printf '%s\n  {"node": %s, "port": %s, "running": %s, "pid": %s, "mode": %s}' \
                "$sep" "$n" "$(zk_port "$n")" "$up" \
                "$([[ $pid != 0 ]] && echo "$pid" || echo null)" \
                "$([[ $mode != - ]] && json_str "$mode" || echo null)"
            sep=,
        done
        printf ']}}\n'
        return 0
    fi

    echo "state dir: $LAB"
    echo "RabbitMQ   transport_url = $(rmq_transport_url)"
    for row in "${rmq_rows[@]}"; do
        read -r n up pid member running_in <<<"$row"
        printf '  node %s  %-16s 127.0.0.1:%s  %-11s %s\n' "$n" "$(rmq_name "$n")" \
            "$(rmq_port "$n")" "$(if [[ $up == true ]]; then echo running
               elif [[ $pid != 0 ]]; then echo paused; else echo not-running; fi)" \
            "$(if [[ -z $src ]]; then echo "cluster: unknown (no node serves)"
               elif [[ $running_in == true ]]; then echo "cluster member, running"
               elif [[ $member == true ]]; then echo "cluster member, not running"
               else echo "not a cluster member"; fi)"
    done
    echo "Galera     wsrep_cluster_address = gcomm://127.0.0.1:4571,127.0.0.1:4572,127.0.0.1:4573"
    for row in "${gal_rows[@]}"; do
        IFS='|' read -r n up pid state size cstatus <<<"$row"
        printf '  node %s  127.0.0.1:%s  %-11s %-8s %-10s size %-2s %s\n' "$n" "$(gal_port "$n")" \
            "$([[ $up == true ]] && echo running || echo not-running)" \
            "$state" "$cstatus" "$size" "$(gal_url "$n")"
    done
    echo "ZooKeeper  $(zk_url)"
    for row in "${zk_rows[@]}"; do
        read -r n up pid mode <<<"$row"
        printf '  node %s  127.0.0.1:%s  %-11s %s\n' "$n" "$(zk_port "$n")" \
            "$([[ $up == true ]] && echo running || echo not-running)" "$mode"
    done
}

# -------------------------------------------------------------------- main

# Set SELECTED to the kinds named (default: all).
SELECTED=()
parse_kinds() {
    local k
    (($#)) || set -- "${KINDS[@]}"
    for k in "$@"; do
        [[ " ${KINDS[*]} " == *" $k "* ]] || usage_error "unknown kind '$k'"
    done
    SELECTED=("$@")
}

has_kind() {
    local k
    for k in "${@:2}"; do
        [[ $k == "$1" ]] && return 0
    done
    return 1
}

cmd_start() {
    local kinds start=$SECONDS
    parse_kinds "$@"
    kinds=("${SELECTED[@]}")
    lock
    # RabbitMQ and ZooKeeper boot in the background while Galera's nodes
    # start one after the other.
    has_kind rabbitmq "${kinds[@]}" && rabbitmq_launch
    has_kind zookeeper "${kinds[@]}" && zookeeper_launch
    has_kind galera "${kinds[@]}" && galera_start
    has_kind zookeeper "${kinds[@]}" && zookeeper_settle
    has_kind rabbitmq "${kinds[@]}" && rabbitmq_settle
    say "started (${kinds[*]}) in $((SECONDS - start))s"
}

cmd_stop() {
    local kinds
    parse_kinds "$@"
    kinds=("${SELECTED[@]}")
    lock
    has_kind rabbitmq "${kinds[@]}" && rabbitmq_stop
    has_kind galera "${kinds[@]}" && galera_stop
    has_kind zookeeper "${kinds[@]}" && zookeeper_stop
    say "stopped (${kinds[*]})"
}

cmd_destroy() {
    local n pid
    (($# == 0)) || usage_error "destroy takes no arguments"
    need_root
    if [[ ! -d $LAB ]]; then
        say "nothing to destroy: $LAB does not exist"
        return 0
    fi
    [[ -e $LAB/$MARKER ]] || die "refusing to remove $LAB: it is not a lab state dir (no $MARKER)"
    lock
    # Clean stops, then whatever is left gets SIGKILL.
    (rabbitmq_stop) || true
    (galera_stop) || true
    (zookeeper_stop) || true
    for n in "${NODES[@]}"; do
        for pid in "$(rmq_pid "$n")" "$(gal_pid "$n")" "$(zk_pid "$n")"; do
            if [[ -n $pid ]]; then
                kill -KILL "$pid" 2>/dev/null || true
            fi
        done
    done
    rm -rf "$LAB"
    say "destroyed $LAB"
}

cmd_node() {
    local op=$1 kind=${2:-} n=${3:-}
    (($# == 3)) || usage_error "usage: $op rabbitmq|galera|zookeeper N"
    [[ " ${KINDS[*]} " == *" $kind "* ]] || usage_error "unknown kind '$kind'"
    check_node "$n"
    lock
    case $kind/$op in
        rabbitmq/node-stop) rmq_node_stop "$n" ;;
        rabbitmq/node-kill) rmq_node_kill "$n" ;;
        rabbitmq/node-start) rmq_node_start "$n" ;;
        galera/node-stop) gal_node_stop "$n" ;;
        galera/node-kill) gal_node_kill "$n" ;;
        galera/node-start) gal_node_start "$n" ;;
        zookeeper/node-stop) zk_node_stop "$n" ;;
        zookeeper/node-kill) zk_node_kill "$n" ;;
        zookeeper/node-start) zk_node_start "$n" ;;
    esac
}

cmd_leader() {
    case ${1:-} in
        zookeeper)
            (($# == 1)) || usage_error "usage: leader zookeeper"
            zk_leader
            ;;
        rabbitmq)
            (($# == 2 || $# == 3)) || usage_error "usage: leader rabbitmq QUEUE [VHOST]"
            rmq_leader "$2" "${3:-/}"
            ;;
        *) usage_error "usage: leader zookeeper | leader rabbitmq QUEUE [VHOST]" ;;
    esac
}

main() {
    (($#)) || usage_error "no command given"
    local cmd=$1
    shift
    case $cmd in
        -h | --help | help) usage ;;
        start) cmd_start "$@" ;;
        stop) cmd_stop "$@" ;;
        destroy) cmd_destroy "$@" ;;
        status)
            case ${1:-} in
                "") status false ;;
                --json) status true ;;
                *) usage_error "usage: status [--json]" ;;
            esac
            ;;
        node-stop | node-kill | node-start) cmd_node "$cmd" "$@" ;;
        leader) cmd_leader "$@" ;;
        *) usage_error "unknown command '$cmd'" ;;
    esac
}

main "$@"
