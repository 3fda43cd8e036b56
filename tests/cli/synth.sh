# fr-synth: usage, byte-identical output for the same arguments at any thread count,
# streams, previews, and clean failures.
source "$(dirname "$0")/lib.bash"
cd "$T"

run fr-synth --help
expect_rc 0; expect_out_match '^usage: fr-synth'
run fr-synth -n 4
expect_rc 2; expect_err_match 'no output given'
run fr-synth -n 0 -o x.frd
expect_rc 2; expect_err_match "ids: 0 is out of range"
run fr-synth -g 3 --spread 1,0.5 -o x.frd
expect_rc 2; expect_err_match 'spread: 2 values for 3 groups'
expect_no_file x.frd

mkdir a b
(cd a && OMP_NUM_THREADS=1 fr-synth -q -n 12 -k 3 --size 48 -g 3 -o s.frd) || fail "fr-synth failed"
(cd b && OMP_NUM_THREADS=2 fr-synth -q -n 12 -k 3 --size 48 -g 3 -o s.frd) || fail "fr-synth failed"
cmp -s a/s.frd b/s.frd || fail "output depends on the thread count"
(cd b && fr-synth -q -n 12 -k 3 --size 48 -g 3 --seed 7 -o s.frd) || fail "fr-synth failed"
cmp -s a/s.frd b/s.frd && fail "another seed gave the same pack"

run fr-info --verify -j -n 2 a/s.frd
expect_rc 0
expect_out_match '"count":36'; expect_out_match '"num_classes":12'; expect_out_match '"group_names":\["g0","g1","g2"\]'
expect_out_match '"columns":\["quality","roll","yaw","expression","illumination","occlusion","resolution","blur","noise","jpeg"\]'
expect_out_match '"key":"id000000/0001","label":0,"group":0,"h":48,"w":48,"c":3'

# a stream through a pipe carries the same records
run bash -c "fr-synth -q -n 12 -k 3 --size 48 -g 3 -o - | fr-info --verify -n 0 -"
expect_rc 0; expect_out_match 'records +36'; expect_out_match 'groups +3: g0, g1, g2'

# previews a person can look at
run fr-synth -q -n 3 -k 2 --size 32 --preview prev -o p.frd
expect_rc 0
[[ -s prev/sheet.ppm && -s prev/sheet.jpg && -s prev/id000000_0000.ppm ]] || fail "preview files missing"
head -c 2 prev/sheet.ppm | grep -q P6 || fail "sheet.ppm is not a binary PPM"
[[ $(sed -n 2p prev/sheet.ppm) == "70 104" ]] || fail "sheet size $(sed -n 2p prev/sheet.ppm), expected 2x3 tiles of 32 with 2-pixel gaps"

# a pack is never written to a terminal, and an unwritable place fails cleanly
if command -v script >/dev/null; then
    run script -qec "fr-synth -q -n 1 -k 1 -o -" /dev/null
    expect_rc 2; expect_out_match 'refusing to write binary data to a terminal'
fi
run fr-synth -q -n 2 -k 1 -o /nonexistent/dir/x.frd
expect_rc 1; expect_err_match '^fr-synth: error: /nonexistent/dir/x.frd.tmp: No such file'
exit 0
