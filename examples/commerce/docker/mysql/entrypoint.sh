#!/bin/sh
# Start MariaDB on $MYSQL_BIND:$MYSQL_PORT; (re)set $MYSQL_USER's password from $MYSQL_PASSWORD.
set -eu
# The image's own data directory (its data sets baked in), or one mounted from a previous run: used as it is.
# An empty mounted one (a new EFS access point, say): initialised, owned by mysql, and kept by the mount.
if [ ! -d /var/lib/mysql/mysql ]; then
  chown mysql:mysql /var/lib/mysql
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
if [ -n "${MYSQL_DATABASE:-}" ]; then
  echo "CREATE DATABASE IF NOT EXISTS \`${MYSQL_DATABASE}\`;" >> "$init"
fi
chown mysql:mysql "$init"
exec mariadbd --user=mysql --datadir=/var/lib/mysql --port="$MYSQL_PORT" --bind-address="$MYSQL_BIND" \
  --socket=/run/mysqld/mysqld.sock --init-file="$init" --skip-name-resolve
