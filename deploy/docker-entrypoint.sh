#!/bin/sh
# Apply migrations, then hand over to the command (gunicorn by default).
set -eu
python manage.py migrate --noinput
exec "$@"
