# fr-pack on hand-built fixtures of the peers' containers: MXNet .rec/.idx (record 0,
# split records), insightface .bin (Python 2 strings, Python 3 bytes with FRAME and
# MEMOIZE, numpy uint8 arrays), SVHN .mat (scipy.io.savemat), tiny-ImageNet.
source "$(dirname "$0")/lib.bash"
have_numpy || skip "python3-numpy builds the fixtures"
/usr/bin/python3 -c 'import PIL, scipy.io' 2>/dev/null || skip "python3-pil and python3-scipy build the fixtures"
cd "$T"
json() { /usr/bin/python3 -c "import json,sys; o=json.loads(open(sys.argv[1]).readline()); print(eval(sys.argv[2]))" "$out" "$1"; }

/usr/bin/python3 - <<'PY'
import io, os, pickle, struct
import numpy as np
import scipy.io
from PIL import Image
rng = np.random.default_rng(5)

def jpeg(seed, size=(12, 10)):
    a = np.random.default_rng(seed).integers(0, 256, (size[1], size[0], 3), dtype=np.uint8)
    b = io.BytesIO(); Image.fromarray(a).save(b, "JPEG", quality=95); return b.getvalue()

# ---- MXNet RecordIO: record 0 (flag 2, labels id_start=4, id_end=6), images 1..3, identity records 4, 5
MAGIC = 0xCED7230A
def chunk(cflag, data):
    pad = (4 - len(data) % 4) % 4
    return struct.pack("<II", MAGIC, cflag << 29 | len(data)) + data + b"\0" * pad
def record(payload):
    # split where the magic sits at a 4-aligned offset, as dmlc's writer does
    parts, start = [], 0
    m = struct.pack("<I", MAGIC)
    i = 0
    while i + 4 <= len(payload):
        if i % 4 == 0 and payload[i:i + 4] == m:
            parts.append(payload[start:i]); start = i + 4; i += 4; continue
        i += 1
    parts.append(payload[start:])
    if len(parts) == 1: return chunk(0, payload)
    return b"".join(chunk(1 if k == 0 else 3 if k == len(parts) - 1 else 2, p) for k, p in enumerate(parts))
def irh(label, data, flag=0, labels=()):
    return struct.pack("<IfQQ", flag, label, 0, 0) + b"".join(struct.pack("<f", x) for x in labels) + data
recs, idx = bytearray(), []
def put(key, payload):
    idx.append(f"{key}\t{len(recs)}\n"); recs.extend(record(payload))
put(0, irh(0, b"", 2, (4.0, 6.0)))
imgs = [jpeg(1), jpeg(2), jpeg(3)]
# image 2 carries the magic at an aligned offset after its JPEG end: it is written in parts
pad = (4 - (24 + len(imgs[1])) % 4) % 4
imgs[1] = imgs[1] + b"\0" * pad + struct.pack("<I", MAGIC) + b"tail"
put(1, irh(0.0, imgs[0])); put(2, irh(1.0, imgs[1])); put(3, irh(0, imgs[2], 2, (1.0, 1.0)))
put(4, irh(0, b"", 2, (1.0, 2.0))); put(5, irh(0, b"", 2, (2.0, 4.0)))
open("train.rec", "wb").write(recs); open("train.idx", "w").write("".join(idx)); open("property", "w").write("2,10,12\n")
open("expect_img2.bin", "wb").write(imgs[1])
bad = bytearray(recs); bad[int(idx[2].split()[1]):int(idx[2].split()[1]) + 4] = b"XXXX"
open("bad.rec", "wb").write(bad); open("bad.idx", "w").write("".join(idx))

# ---- insightface .bin: 3 pairs
bins = [jpeg(10 + k) for k in range(6)]
same = [True, False, True]
pickle.dump((bins, same), open("py3.bin", "wb"), protocol=4)           # FRAME, MEMOIZE, SHORT_BINBYTES
pickle.dump((bins, same), open("py3p5.bin", "wb"), protocol=5)
pickle.dump((bins, same), open("py3p2.bin", "wb"), protocol=2)         # bytes as _codecs.encode(str, 'latin1')
pickle.dump(([np.frombuffer(b, np.uint8) for b in bins], same), open("np.bin", "wb"), protocol=4)  # cv2.imencode arrays
# Python 2's cPickle protocol 2: str -> SHORT_BINSTRING / BINSTRING, BINPUT memo, APPENDS in a MARK
def py2(bins, same):
    o = bytearray(b"\x80\x02]q\x00(")
    for b in bins:
        o += (b"U" + bytes([len(b)]) if len(b) < 256 else b"T" + struct.pack("<I", len(b))) + b
    o += b"e]q\x01(" + b"".join(b"\x88" if s else b"\x89" for s in same) + b"e\x86q\x02."
    return bytes(o)
open("py2.bin", "wb").write(py2(bins, same))
open("evil.bin", "wb").write(b"\x80\x02cos\nsystem\nq\x00X\x02\x00\x00\x00lsq\x01\x85q\x02Rq\x03.")
open("odd.bin", "wb").write(pickle.dumps((bins[:5], same), protocol=4))
open("expect_bin4.bin", "wb").write(bins[4])

# ---- SVHN .mat: X [32,32,3,N] uint8, y [N,1] with 10 meaning 0
X = rng.integers(0, 256, (32, 32, 3, 4), dtype=np.uint8)
y = np.array([[10], [1], [9], [10]], dtype=np.uint8)
scipy.io.savemat("svhn.mat", {"X": X, "y": y}, do_compression=True)
scipy.io.savemat("svhn_plain.mat", {"X": X, "y": y.astype(np.float64)}, do_compression=False)
np.save("svhn_x.npy", X)
open("notmat.mat", "wb").write(b"\x89HDF\r\n\x1a\n" + b"\0" * 200)

# ---- tiny-ImageNet
for w in ("n02", "n01"):
    os.makedirs(f"tiny/train/{w}/images", exist_ok=True)
    for k in range(2):
        open(f"tiny/train/{w}/images/{w}_{k}.JPEG", "wb").write(jpeg(hash((w, k)) % 1000, (8, 8)))
os.makedirs("tiny/val/images", exist_ok=True)
open("tiny/wnids.txt", "w").write("n02\nn01\n")
open("tiny/val/images/val_0.JPEG", "wb").write(jpeg(50, (8, 8)))
open("tiny/val/images/val_1.JPEG", "wb").write(jpeg(51, (8, 8)))
open("tiny/val/val_annotations.txt", "w").write("val_0.JPEG\tn02\t0\t0\t7\t7\nval_1.JPEG\tn01\t1\t1\t6\t6\n")
PY

# MXNet: record 0 and the identity records are not images; the split record reassembles
run fr-pack -q --store keep -o rec.frd train.rec
expect_rc 0
run fr-info -j -n -1 rec.frd
[[ $(json '[(r["key"], r["label"]) for r in o["records"]]') == "[('1', 0), ('2', 1), ('3', 1)]" ]] || fail "rec: $(json '[(r["key"], r["label"]) for r in o["records"]]')"
/usr/bin/python3 -c "import sys; assert open('expect_img2.bin','rb').read() in open('rec.frd','rb').read()" || fail "rec: the split record did not reassemble byte for byte"
run fr-pack -q -o x.frd bad.rec
expect_rc 1; expect_err_match 'bad.rec: record at byte [0-9]+: bad magic'; expect_no_file x.frd
run fr-pack -q --skip-bad -o skipped.frd bad.rec
expect_rc 0

# insightface .bin in each pickle dialect: the same 6 images and 3 pairs
for b in py2 py3 py3p5 py3p2 np; do
    run fr-pack -q --store keep --pairs-out "$b.pairs" -o "$b.frd" "$b.bin"
    expect_rc 0
    [[ $(grep -v '^#' "$b.pairs" | tr '\n' ' ') == "0 1 1 0 2 3 0 3 4 5 1 6 " ]] || fail "$b: pairs $(cat "$b.pairs")"
    run fr-info -j -n 0 "$b.frd"
    [[ $(json 'o["count"]') == 6 ]] || fail "$b: $(json 'o["count"]') images"
    /usr/bin/python3 -c "assert open('expect_bin4.bin','rb').read() in open('$b.frd','rb').read()" || fail "$b: image 4 is not byte for byte"
done
run fr-pack -q --pairs-out x.pairs -o x.frd evil.bin
expect_rc 1; expect_err_match 'evil.bin: pickle: calls os.system'; expect_no_file x.frd
run fr-pack -q --pairs-out x.pairs -o x.frd odd.bin
expect_rc 1; expect_err_match 'odd.bin: 5 images for 3 pairs'
head -c 300 py3.bin >trunc.bin
run fr-pack -q --pairs-out x.pairs -o x.frd trunc.bin
expect_rc 1; expect_err_match 'trunc.bin: pickle: (truncated|a [0-9]+-byte string)'
run fr-pack -q -o x.frd py3.bin
expect_rc 2; expect_err_match 'needs --pairs-out'

# SVHN: compressed and plain, uint8 and double labels; 10 means 0; column-major pixels
for m in svhn svhn_plain; do
    run fr-pack -q -o "$m.frd" "$m.mat"
    expect_rc 0
    run fr-info -j -n -1 "$m.frd"
    [[ $(json '[r["label"] for r in o["records"]], o["h"], o["c"]') == "([0, 1, 9, 0], 32, 3)" ]] || fail "$m: $(json '[r["label"] for r in o["records"]]')"
done
/usr/bin/python3 -c "
import numpy as np
X = np.load('svhn_x.npy')
assert np.ascontiguousarray(X[:, :, :, 2]).tobytes() in open('svhn.frd', 'rb').read()" || fail "SVHN pixels are not HWC"
run fr-pack -q -o x.frd notmat.mat
expect_rc 1; expect_err_match 'notmat.mat: MAT: a v7.3 \(HDF5\) file'

# tiny-ImageNet: labels by sorted wnid
run fr-pack -q -o tt.frd --from tiny tiny
expect_rc 0
run fr-info -j -n -1 tt.frd
[[ $(json '[(r["key"], r["label"]) for r in o["records"]], o["class_names"]') == "([('train/n01/images/n01_0.JPEG', 0), ('train/n01/images/n01_1.JPEG', 0), ('train/n02/images/n02_0.JPEG', 1), ('train/n02/images/n02_1.JPEG', 1)], ['n01', 'n02'])" ]] || fail "tiny train: $(json '[(r["key"], r["label"]) for r in o["records"]]')"
run fr-pack -q -o tv.frd --from tiny --split val tiny
expect_rc 0
run fr-info -j -n -1 tv.frd
[[ $(json '[(r["key"], r["label"]) for r in o["records"]]') == "[('val/images/val_0.JPEG', 1), ('val/images/val_1.JPEG', 0)]" ]] || fail "tiny val"
exit 0
