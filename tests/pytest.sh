#!/bin/sh
# Runs pytest with the same python3 that scripts/dev.sh installed pytest and
# moto into (a distribution's pytest-3 may belong to another interpreter).
exec python3 -m pytest "$@"
