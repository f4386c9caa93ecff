#!/bin/sh
# Start MariaDB on $MYSQL_BIND:$MYSQL_PORT; (re)set $MYSQL_USER's password from $MYSQL_PASSWORD.
set -eu
if [ ! -d /var/lib/mysql/mysql ]; then
  mariadb-install-db --user=mysql --datadir=/var/lib/mysql --skip-test-db >/dev/null
fi
init=/run/mysqld/init.sql
: "${MYSQL_PASSWORD:?set MYSQL_PASSWORD}"
escaped=$(printf '%s' "$MYSQL_PASSWORD" | sed "s/'/''/g")
cat > "$init" <<SQL
CREATE USER IF NOT EXISTS '${MYSQL_USER}'@'%' IDENTIFIED BY '${escaped}';
ALTER USER '${MYSQL_USER}'@'%' IDENTIFIED BY '${escaped}';
GRANT ALL PRIVILEGES ON *.* TO '${MYSQL_USER}'@'%' WITH GRANT OPTION;
SQL
chown mysql:mysql "$init"
exec mariadbd --user=mysql --datadir=/var/lib/mysql --port="$MYSQL_PORT" --bind-address="$MYSQL_BIND" \
  --socket=/run/mysqld/mysqld.sock --init-file="$init" --skip-name-resolve
