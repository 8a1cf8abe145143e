#!/usr/bin/env bash
# Print the path of a working Python 3.12 or 3.13 interpreter, or explain how to get one.
#
#   PY_VERSION=3.13   accept only that version (3.12 or 3.13); default: 3.12 if there is one,
#                     else 3.13
#   PYTHON=/path      use this interpreter (it must be 3.12 or 3.13, and PY_VERSION if given);
#                     PYTHON312=/path, the older name, works the same way
set -u
SUPPORTED="3.12 3.13"
want="${PY_VERSION:-}"
if [ -n "$want" ] && [[ " $SUPPORTED " != *" $want "* ]]; then
    echo "PY_VERSION=$want: ambidex_bayes supports Python ${SUPPORTED// / and }." >&2
    exit 1
fi
versions="${want:-$SUPPORTED}"

# Print the interpreter's path when "$1" runs and is one of the wanted versions.
try() {
    "$1" -c 'import sys; v = "%d.%d" % sys.version_info[:2]; assert v in sys.argv[1].split(); print(sys.executable)' "$2" 2>/dev/null
}

explicit="${PYTHON:-${PYTHON312:-}}"
if [ -n "$explicit" ]; then
    if out=$(try "$explicit" "$versions"); then echo "$out"; exit 0; fi
    name=PYTHON; [ -n "${PYTHON:-}" ] || name=PYTHON312
    echo "$name=$explicit is not a working Python ${versions// / or } interpreter." >&2
    exit 1
fi

for version in $versions; do  # 3.12 first unless PY_VERSION says otherwise
    for candidate in "python$version" python3 python; do
        if out=$(try "$candidate" "$version"); then echo "$out"; exit 0; fi
    done
    if command -v pyenv >/dev/null 2>&1; then
        root=$(pyenv root)
        for found in $(pyenv versions --bare 2>/dev/null | grep -E "^${version//./\\.}(\.[0-9]+)?$" | sort -t. -k3 -n -r); do
            if out=$(try "$root/versions/$found/bin/python$version" "$version"); then echo "$out"; exit 0; fi
        done
    fi
done
first="${versions%% *}"
cat >&2 <<MSG
ambidex_bayes needs Python ${versions// / or } and none was found (tried python${versions// /, python},
python3, python and pyenv's versions). Install one, for example:
    pyenv install $first      # then run make again
or  apt-get install python$first python$first-venv
or  point PYTHON at an interpreter:  make demo PYTHON=/path/to/python$first
MSG
exit 1
