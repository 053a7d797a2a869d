#!/usr/bin/env bash
# Start the local PostgreSQL, MariaDB and Redis servers if they are down (idempotent), and wait
# for them.
set -euo pipefail

pg_up() { pg_isready -q -h 127.0.0.1 -p 5432 2>/dev/null; }
my_up() { mysqladmin --protocol=tcp -h 127.0.0.1 -P 3306 -uroot ping >/dev/null 2>&1; }
redis_up() { redis-cli -h 127.0.0.1 -p 6379 ping 2>/dev/null | grep -q PONG; }

if ! pg_up && command -v pg_ctlcluster >/dev/null; then
  pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | head -n1)" main start || true
fi
if ! my_up && [ -x /usr/sbin/mariadbd ]; then
  start-stop-daemon --start --oknodo --background --exec /usr/sbin/mariadbd || true
fi
if ! redis_up && command -v redis-server >/dev/null; then
  if [ -f /etc/redis/redis.conf ]; then
    redis-server /etc/redis/redis.conf --daemonize yes || true
  else
    redis-server --bind 127.0.0.1 --port 6379 --daemonize yes || true
  fi
fi
for _ in $(seq 1 60); do
  if pg_up && my_up && redis_up; then exit 0; fi
  sleep 1
done
pg_up || echo "PostgreSQL is not answering on 127.0.0.1:5432" >&2
my_up || echo "MariaDB is not answering on 127.0.0.1:3306" >&2
redis_up || echo "Redis is not answering on 127.0.0.1:6379" >&2
exit 1
