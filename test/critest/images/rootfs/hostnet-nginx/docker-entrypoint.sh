#!/bin/sh
# Entrypoint of the hostnet-nginx look-alike: like the upstream nginx image it
# announces itself and then replaces itself with the command it was given, so
# that nginx ends up as PID 1 and receives the stop signal directly.
set -e
if [ "$1" = "nginx" ]; then
    echo "$0: Configuration complete; ready for start up"
fi
exec "$@"
