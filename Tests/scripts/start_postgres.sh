#!/usr/bin/env bash
# Starts a throwaway PostgreSQL server (Debian's postgresql) on 127.0.0.1:15432 with trust
# authentication, for the store conformance suite, and prints its URL.
# usage: eval "$(Tests/scripts/start_postgres.sh)"   → sets POOLSWAP_TEST_POSTGRES_URL
set -euo pipefail
if ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then
    apt-get update -q >&2
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q postgresql >&2
fi
bin=$(dirname "$(ls /usr/lib/postgresql/*/bin/initdb | sort -V | tail -1)")
dir=/tmp/poolswap-pg
port=15432
if ! "$bin/pg_isready" -h 127.0.0.1 -p $port -q; then
    rm -rf "$dir"; mkdir -p "$dir"; chown postgres "$dir"
    su postgres -s /bin/sh -c "'$bin/initdb' -D '$dir/data' -A trust -U postgres" >&2
    su postgres -s /bin/sh -c "'$bin/pg_ctl' -D '$dir/data' -l '$dir/log' -o '-p $port -k $dir -c listen_addresses=127.0.0.1 -c fsync=off' -w start" >&2
fi
echo "export POOLSWAP_TEST_POSTGRES_URL=postgres://postgres@127.0.0.1:$port/postgres"
