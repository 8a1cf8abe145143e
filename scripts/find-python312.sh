#!/usr/bin/env bash
# Print the path of a working Python 3.12 interpreter, or explain how to get one.
set -u
try() {
    "$@" -c 'import sys; assert sys.version_info[:2] == (3, 12); print(sys.executable)' 2>/dev/null
}
for candidate in "${PYTHON312:-}" python3.12 python3 python; do
    [ -n "$candidate" ] || continue
    if out=$(try "$candidate"); then echo "$out"; exit 0; fi
done
if command -v pyenv >/dev/null 2>&1; then
    root=$(pyenv root)
    for version in $(pyenv versions --bare 2>/dev/null | grep -E '^3\.12(\.[0-9]+)?$' | sort -t. -k3 -n -r); do
        if out=$(try "$root/versions/$version/bin/python3.12"); then echo "$out"; exit 0; fi
    done
fi
cat >&2 <<'MSG'
ambidex_bayes needs Python 3.12 and none was found (tried $PYTHON312, python3.12, python3,
python and pyenv's 3.12.x versions). Install one, for example:
    pyenv install 3.12      # then run make again
or  apt-get install python3.12 python3.12-venv
or  point PYTHON312 at an interpreter:  make demo PYTHON312=/path/to/python3.12
MSG
exit 1
