# make install puts every tool and man page under PREFIX, and the installed tools run.
source "$(dirname "$0")/lib.bash"
# install the variant under test (never rebuild another one over bin/ mid-run)
v=${VARIANT:-release}
flags=()
[[ $v == debug* ]] && flags+=(DEBUG=1)
[[ $v == *-san* ]] && flags+=(SAN=1)
[[ $v == *-nocuda* ]] && flags+=(NO_CUDA=1)
[[ $v == *-nompi* ]] && flags+=(NO_MPI=1)
[[ $v == *-noomp* ]] && flags+=(NO_OMP=1)
run make -s -C "$FR_ROOT" install PREFIX="$T/inst" "${flags[@]}"
expect_rc 0
for src in "$FR_ROOT"/src/fr-*.c; do
    t=$(basename "$src" .c)
    [[ -x $T/inst/bin/$t ]] || fail "$t not installed"
    [[ -f $T/inst/share/man/man1/$t.1 ]] || fail "$t.1 not installed"
done
[[ -f $T/inst/share/man/man5/frkit-formats.5 && -f $T/inst/share/man/man7/frkit.7 ]] || fail "section 5/7 pages not installed"
run "$T/inst/bin/fr-info" --version
expect_rc 0; expect_out_match "build: $v"
MANPATH=$T/inst/share/man run man -w fr-info
expect_rc 0; expect_out_match "$T/inst/share/man/man1/fr-info.1"
exit 0
