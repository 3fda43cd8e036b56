# Every tool has a man page whose SYNOPSIS is its --help usage line, and every
# man page renders without warnings.
source "$(dirname "$0")/lib.bash"
command -v man >/dev/null || skip "man (man-db) is not installed"
n=0
for tool in "$FR_ROOT"/src/fr-*.c; do
    name=$(basename "$tool" .c)
    page=$FR_ROOT/man/$name.1
    [[ -f $page ]] || fail "$name has no man page man/$name.1"
    syn=$(MANWIDTH=400 LC_ALL=C man -l "$page" 2>/dev/null | sed -n '/^SYNOPSIS/,/^[A-Z]/p' | sed '1d;$d' | tr -s ' \n' ' ' | sed 's/^ //;s/ $//')
    run "$FR_ROOT/bin/$name" --help
    expect_rc 0
    use=$(sed -n '1s/^usage: //p' "$out")
    [[ -n $syn && "$syn" == "$use" ]] || fail "$name: man SYNOPSIS '$syn' differs from --help usage '$use'"
    n=$((n+1))
done
((n > 0)) || fail "no tools found"
for page in "$FR_ROOT"/man/*.[157]; do
    warn=$(LC_ALL=C MANWIDTH=100 man --warnings=w -l "$page" 2>&1 >/dev/null)
    [[ -z $warn ]] || fail "$(basename "$page"): $warn"
done
exit 0
