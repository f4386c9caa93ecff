#!/bin/sh
# Start Mosquitto on $BROKER_BIND:$BROKER_PORT.
set -eu
conf=/tmp/commerce-broker.conf
printf 'listener %s %s\nallow_anonymous true\npersistence false\n' "$BROKER_PORT" "$BROKER_BIND" > "$conf"
exec mosquitto -c "$conf"
