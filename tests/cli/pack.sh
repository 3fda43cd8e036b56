# fr-pack on hand-built fixtures: list-file dialects, CIFAR-10 binary, IDX, side files,
# geometry options, storage, determinism, and bad input.
source "$(dirname "$0")/lib.bash"
have_numpy || skip "python3-numpy builds the fixtures"
cd "$T"
json() { /usr/bin/python3 -c "import json,sys; o=json.loads(open(sys.argv[1]).readline()); print(eval(sys.argv[2]))" "$out" "$1"; }

/usr/bin/python3 - <<'PY'
import numpy as np, os, gzip, struct
rng = np.random.default_rng(3)
os.makedirs("imgs/alice", exist_ok=True); os.makedirs("imgs/bob", exist_ok=True)
def ppm(path, a):
    h, w = a.shape[:2]
    hdr = (b"P6" if a.ndim == 3 else b"P5") + b"\n# a comment\n%d %d\n255\n" % (w, h)
    open(path, "wb").write(hdr + a.astype(np.uint8).tobytes())
for who in ("alice", "bob"):
    for k in range(3):
        ppm(f"imgs/{who}/{k}.ppm", rng.integers(0, 256, (20, 24, 3)))
ppm("imgs/bob/grey.pgm", rng.integers(0, 256, (20, 24)))
# list files: plain, MXNet .lst, insightface .lst
open("plain.txt", "w").write("imgs/alice/0.ppm 0 1\nimgs/bob/1.ppm 1 0\n")
open("mx.lst", "w").write("0\t0.000000\timgs/alice/0.ppm\n1\t1.000000\timgs/bob/1.ppm\n")
open("if.lst", "w").write("1\timgs/alice/0.ppm\t0\n1\timgs/bob/1.ppm\t1\n")
# CIFAR-10 binary: two records and the class names
recs = bytearray()
for lab in (3, 7):
    recs += bytes([lab]) + bytes((np.arange(3072) % 251 + lab).astype(np.uint8))
open("data_batch_1.bin", "wb").write(recs)
open("batches.meta.txt", "w").write("\n".join(["airplane","automobile","bird","cat","deer","dog","frog","horse","ship","truck"]) + "\n")
# IDX: 3 images 4x5, gzipped, and a labels file
img = np.arange(60, dtype=np.uint8).reshape(3, 4, 5)
gzip.open("tiny-images-idx3-ubyte.gz", "wb").write(struct.pack(">IIII", 0x803, 3, 4, 5) + img.tobytes())
gzip.open("tiny-labels-idx1-ubyte.gz", "wb").write(struct.pack(">II", 0x801, 3) + bytes([2, 0, 1]))
open("bad-images-idx3-ubyte", "wb").write(struct.pack(">IIII", 0x802, 3, 4, 5) + img.tobytes())
open("short-images-idx3-ubyte", "wb").write(struct.pack(">IIII", 0x803, 3, 4, 5) + img.tobytes()[:50])
# side files
open("groups.csv", "w").write("key,group\nalice/0.ppm,east\nbob/1.ppm,west\nbob/2.ppm,\n")
open("cols.csv", "w").write("key,quality,yaw\nalice/0.ppm,0.5,-3\nbob/grey.pgm,,1.5\n")
open("lm.txt", "w").write("alice/1.ppm 5 7 15 7 10 11 6 15 14 15 0.99\n")
open("lm-bad.txt", "w").write("alice/1.ppm 5 7 15\n")
PY

run fr-pack --help
expect_rc 0; expect_out_match '^usage: fr-pack'
run fr-pack -o x.frd
expect_rc 2; expect_err_match 'no INPUT'
run fr-pack --from nope -o x.frd imgs
expect_rc 2; expect_err_match "from: 'nope'"

# a folder: classes sorted, files sorted, PGM and PPM, side files by key
run fr-pack -q --groups groups.csv --columns cols.csv --landmarks lm.txt -o f.frd imgs
expect_rc 0
run fr-info -j -n -1 f.frd
[[ $(json '[(r["key"], r["label"], r["group"]) for r in o["records"]][:5]') == "[('alice/0.ppm', 0, 0), ('alice/1.ppm', 0, -1), ('alice/2.ppm', 0, -1), ('bob/0.ppm', 1, -1), ('bob/1.ppm', 1, 1)]" ]] || fail "folder order/labels/groups: $(json '[(r["key"], r["label"], r["group"]) for r in o["records"]]')"
[[ $(json 'o["class_names"], o["group_names"], o["columns"]') == "(['alice', 'bob'], ['east', 'west'], ['quality', 'yaw'])" ]] || fail "names: $(json 'o["class_names"], o["group_names"], o["columns"]')"
[[ $(json 'o["records"][0]["columns"], o["records"][6]["columns"], o["records"][6]["c"], o["records"][1]["columns"]') == "([0.5, -3], [None, 1.5], 1, [None, None])" ]] || fail "columns: $(json 'o["records"][0]["columns"], o["records"][6]["columns"]')"
[[ $(json '(o["records"][1]["w"], o["records"][1]["h"]), (o["records"][0]["w"], o["records"][0]["h"])') == "((112, 112), (24, 20))" ]] || fail "landmarks did not align alice/1.ppm to 112x112"
run fr-pack -q --landmarks lm-bad.txt -o bad.frd imgs
expect_rc 1; expect_err_match 'lm-bad.txt: line 1: expected'; expect_no_file bad.frd

# the same inputs give a byte-identical pack, whatever the thread count
mkdir d1 d2
(cd d1 && OMP_NUM_THREADS=1 fr-pack -q -o a.frd ../imgs) && (cd d2 && OMP_NUM_THREADS=2 fr-pack -q -o a.frd ../imgs) || fail "fr-pack failed"
cmp -s d1/a.frd d2/a.frd || fail "output depends on the thread count"

# geometry and storage
run fr-pack -q --crop 16x12 --resize 8 --kernel bicubic --rgb --store jpeg -Q 90 -o g.frd imgs
expect_rc 0
run fr-info -j -n -1 g.frd
[[ $(json '{(r["w"], r["h"], r["c"], r["encoding"]) for r in o["records"]}') == "{(8, 8, 3, 'jpeg')}" ]] || fail "geometry: $(json '{(r["w"], r["h"], r["c"]) for r in o["records"]}')"
run fr-pack -q --crop 30x30 -o c.frd imgs
expect_rc 1; expect_err_match 'record alice/0.ppm: image 24x20 is smaller than the crop 30x30'; expect_no_file c.frd

# list files, three dialects, give the same records
for l in plain.txt mx.lst if.lst; do
    run fr-pack -q -o "$l.frd" "$l"
    expect_rc 0
    run fr-info -j -n -1 "$l.frd"
    [[ $(json '[(r["key"], r["label"]) for r in o["records"]]') == "[('imgs/alice/0.ppm', 0), ('imgs/bob/1.ppm', 1)]" ]] || fail "$l: $(json '[(r["key"], r["label"]) for r in o["records"]]')"
done
run fr-info -j -n -1 plain.txt.frd
[[ $(json '[r["group"] for r in o["records"]]') == "[1, 0]" ]] || fail "plain list groups"
# absolute paths in a list stand as they are, from any folder
mkdir -p sub && printf '%s 0\n' "$PWD/imgs/alice/0.ppm" >sub/abs.txt
run fr-pack -q -o abs.frd sub/abs.txt
expect_rc 0
run fr-info -j -n -1 abs.frd
[[ $(json '[r["key"] for r in o["records"]]') == "['$PWD/imgs/alice/0.ppm']" ]] || fail "absolute list path: $(json '[r["key"] for r in o["records"]]')"
printf 'imgs/alice/0.ppm zero\n' >badlab.txt
run fr-pack -q -o x.frd badlab.txt
expect_rc 1; expect_err_match "badlab.txt: line 1: label 'zero'"

# CIFAR-10 binary: planes become HWC, class names from batches.meta.txt
run fr-pack -q -o cb.frd data_batch_1.bin
expect_rc 0
run fr-info -j -n -1 cb.frd
[[ $(json '[r["label"] for r in o["records"]], o["class_names"][3], o["h"], o["c"]') == "([3, 7], 'cat', 32, 3)" ]] || fail "CIFAR binary"
/usr/bin/python3 - cb.frd <<'PY' || fail "CIFAR pixels not in HWC order"
import numpy as np, sys
planes = (np.arange(3072, dtype=np.uint16) % 251 + 3).astype(np.uint8).reshape(3, 32, 32)
assert planes.transpose(1, 2, 0).tobytes() in open(sys.argv[1], "rb").read()
PY
head -c 3000 data_batch_1.bin >short_batch.bin
run fr-pack -q --from cifar -o x.frd short_batch.bin
expect_rc 1; expect_err_match 'short_batch.bin: 3000 bytes is not a whole number of 3073-byte'

# IDX: gzip, labels found beside, magic and size checked
run fr-pack -q -o i.frd tiny-images-idx3-ubyte.gz
expect_rc 0
run fr-info -j -n -1 i.frd
[[ $(json '[r["label"] for r in o["records"]], o["h"], o["w"]') == "([2, 0, 1], 4, 5)" ]] || fail "IDX"
run fr-pack -q --from idx -o x.frd bad-images-idx3-ubyte
expect_rc 1; expect_err_match 'bad-images-idx3-ubyte: not an IDX image file \(magic 00000802'
run fr-pack -q --from idx -o x.frd short-images-idx3-ubyte
expect_rc 1; expect_err_match 'short-images-idx3-ubyte: 50 data bytes for 3 images'

# a corrupt JPEG fails naming the record, or is skipped and counted with --skip-bad
mkdir -p jp/a && /usr/bin/python3 -c "
from PIL import Image; import numpy as np
Image.fromarray(np.zeros((8, 8, 3), np.uint8)).save('jp/a/good.jpg')
open('jp/a/bad.jpg', 'wb').write(open('jp/a/good.jpg', 'rb').read()[:40])"
run fr-pack -q -o j.frd jp
expect_rc 1; expect_err_match 'record a/bad.jpg: not a valid JPEG'; expect_no_file j.frd
run fr-pack --skip-bad -o j.frd jp
expect_rc 0; expect_err_match '1 records packed, 1 skipped'

# a pack streams to standard output
run bash -c "fr-pack -q -o - imgs | fr-info -n 0 -"
expect_rc 0; expect_out_match 'records +7'
exit 0
