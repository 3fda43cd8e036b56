# The dependency test: map every header, library, tool and Python module the build and
# the tests actually use to its Debian package, and fail when a package is neither in
# scripts/deps.sh's list nor pulled in by one in it (nor essential). These machines
# already have everything installed, so nothing else would catch a missing install step.
source "$(dirname "$0")/lib.bash"
command -v dpkg >/dev/null && command -v apt-cache >/dev/null || skip "not a Debian system"
cd "$FR_ROOT"

listed=$(scripts/deps.sh --list)
closure=$(apt-cache depends --installed --recurse --no-recommends --no-suggests --no-conflicts \
          --no-breaks --no-replaces --no-enhances $listed 2>/dev/null | grep -v '^ ' | tr -d '<>' | sort -u)
[[ -n $closure ]] || fail "apt-cache gave no dependency closure"

files=()
# 1. headers: what the compiler really includes, with the build's own flags
cflags=$(make -s --no-print-directory print-CFLAGS | sed "s/-MMD//; s/-MP//")
for src in common/*.c src/*.c tests/unit/*.c tests/fuzz/*.c; do
    for h in $(gcc -M $cflags -Itests/unit "$src" 2>/dev/null | tr -d '\\' | tr ' ' '\n' | grep '^/'); do
        files+=("$h")
    done
done
# 2. shared libraries the tools load
for b in bin/fr-*; do
    [[ -x $b ]] || continue
    for l in $(ldd "$b" | grep -o '/[^ ]*'); do files+=("$l"); done
done
# 3. commands the build, tests and scripts run
for c in gcc make pkg-config ar clang man groff script python3 xxd; do
    p=$(command -v "$c") || fail "command $c is not installed (scripts/deps.sh should install it)"
    files+=("$p")
done
files+=("$(clang -print-file-name=libclang_rt.fuzzer-x86_64.a)")
# data the real-data tests read from Debian packages
[[ -f /usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz ]] && files+=(/usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz)
# 4. Python modules the reference and interop checks import
for m in numpy torch PIL scipy.io; do
    f=$(/usr/bin/python3 -c "import $m as x; print(x.__file__)" 2>/dev/null) || fail "/usr/bin/python3 cannot import $m"
    files+=("$f")
done

# resolve each to the path dpkg knows (usr-merge: /lib -> /usr/lib); one dpkg -S for all
declare -A need
cands=()
for f in $(printf '%s\n' "${files[@]}" | sort -u); do
    [[ $f == "$FR_ROOT"/* || $f == /usr/local/* ]] && continue  # our own files; the CUDA toolkit
    r=$(realpath -m "$f")
    cands+=("$f" "$r" "${f#/usr}" "${r#/usr}")
done
owned=$(dpkg -S $(printf '%s\n' "${cands[@]}" | sort -u) 2>/dev/null)
for p in $(cut -d: -f1 <<<"$owned" | tr ',' '\n' | tr -d ' ' | sort -u); do need[$p]=1; done
nowned=$(cut -d: -f2- <<<"$owned" | tr -d ' ' | sort -u | wc -l)

missing=()
for p in "${!need[@]}"; do
    base=${p%%:*}
    grep -qx "$base" <<<"$closure" && continue
    ess=$(dpkg-query -W -f='${Essential} ${Priority}' "$base" 2>/dev/null)
    [[ $ess == yes* || $ess == *required ]] && continue
    missing+=("$base")
done
echo "packages used (${#need[@]}): ${!need[*]}"; echo "paths dpkg owns: $nowned"
((${#missing[@]} == 0)) || fail "used but not installed by scripts/deps.sh: ${missing[*]}"
exit 0
