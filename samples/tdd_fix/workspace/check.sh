#!/bin/sh
# The project's test: src/add.sh must add. Exit 0 when it does.
got=$(sh src/add.sh 2 3)
if [ "$got" = "5" ]; then
  echo "ok: add 2 3 = 5"
  exit 0
fi
echo "FAIL: add 2 3: expected 5, got $got"
exit 1
