# fr-pack on the real data in ../shared/data and Debian's Fashion-MNIST: right counts,
# labels and pixels. Skipped (and counted as skipped) when the data is absent.
source "$(dirname "$0")/lib.bash"
DATA=${FR_DATA:-$FR_ROOT/../shared/data}
FM=/usr/share/datasets/fashion-mnist
[[ -d $DATA/orl || -d $FM ]] || skip "no ../shared/data and no dataset-fashion-mnist"
have_numpy || skip "python3-numpy is needed to read back pixels"
cd "$T"
json() { /usr/bin/python3 -c "import json,sys; o=json.loads(open(sys.argv[1]).readline()); print(eval(sys.argv[2]))" "$out" "$1"; }

if [[ -d $DATA/orl ]]; then
    run fr-pack -q -o orl.frd "$DATA/orl"
    expect_rc 0
    run fr-info -j --verify -n 0 orl.frd
    [[ $(json 'o["count"], o["num_classes"], o["h"], o["w"], o["c"]') == "(400, 40, 112, 92, 1)" ]] || fail "ORL: $(json 'o["count"], o["num_classes"], o["h"], o["w"]')"
    # the pixels of s7/3.pgm are the file's pixels (binary PGM after a text header)
    /usr/bin/python3 - "$DATA/orl/s7/3.pgm" orl.frd <<'PY' || fail "ORL pixels differ"
import sys, subprocess, json
pgm = open(sys.argv[1], "rb").read()
parts = pgm.split(maxsplit=4)
w, h = int(parts[1]), int(parts[2])
pix = parts[4][: w * h] if len(parts[4]) >= w * h else None
# find the record with key s7/3.pgm and compare its bytes through fr-info's key listing and a raw read
info = subprocess.run(["fr-info", "-j", "-n", "-1", sys.argv[2]], capture_output=True, text=True).stdout
recs = json.loads(info)["records"]
idx = [r["index"] for r in recs if r["key"] == "s7/3.pgm"][0]
assert recs[idx]["label"] == [r["label"] for r in recs if r["key"].startswith("s7/")][0]
data = open(sys.argv[2], "rb").read()
assert pgm[-w * h:] in data, "pixels not found verbatim in the pack"
PY
fi

if [[ -f $DATA/yaleb/CroppedYale-2414.tar.gz ]]; then
    mkdir yale && tar xzf "$DATA/yaleb/CroppedYale-2414.tar.gz" -C yale
    run fr-pack -q -o yale.frd yale
    expect_rc 0
    run fr-info -j -n 0 yale.frd
    [[ $(json 'o["count"], o["num_classes"], o["h"], o["w"]') == "(2414, 38, 192, 168)" ]] || fail "Yale B: $(json 'o["count"], o["num_classes"]')"
fi

if [[ -d $DATA/lfw-dev ]]; then
    run fr-pack -q --from lfw --lfw-pairs "$DATA/lfw-dev/pairs.txt" --pairs-out lfw.pairs \
        --groups "$DATA/lfw-dev/gender.csv" --store keep -o lfw.frd "$DATA/lfw-dev/images"
    expect_rc 0
    run fr-info -j -n 1 lfw.frd
    [[ $(json 'o["count"], o["group_names"], o["records"][0]["encoding"]') == "(2320, ['M', 'F'], 'jpeg')" ]] || \
        [[ $(json 'o["count"], sorted(o["group_names"]), o["records"][0]["encoding"]') == "(2320, ['F', 'M'], 'jpeg')" ]] || fail "LFW: $(json 'o["count"], o["group_names"]')"
    [[ $(grep -vc '^#' lfw.pairs) == 1800 ]] || fail "LFW: $(grep -vc '^#' lfw.pairs) pairs, expected 1800"
    head -1 lfw.pairs | grep -q 'folds=3' || fail "LFW: the fold count of pairs.txt is lost"
    # the first pair of pairs.txt: Abel_Pacheco 1 4, a match in fold 0
    /usr/bin/python3 - lfw.frd lfw.pairs "$DATA/lfw-dev/images" <<'PY' || fail "LFW pairs or bytes differ"
import sys, subprocess, json
recs = json.loads(subprocess.run(["fr-info", "-j", "-n", "-1", sys.argv[1]], capture_output=True, text=True).stdout)["records"]
lines = [l.split() for l in open(sys.argv[2]) if not l.startswith("#")]
a, b, same, fold = map(int, lines[0])
assert recs[a]["key"] == "Abel_Pacheco_0001.jpg" and recs[b]["key"] == "Abel_Pacheco_0004.jpg" and same == 1 and fold == 0
assert sum(int(l[2]) for l in lines) == 900 and {int(l[3]) for l in lines} == {0, 1, 2}
data = open(sys.argv[1], "rb").read()
jpg = open(sys.argv[3] + "/Abel_Pacheco_0004.jpg", "rb").read()
assert jpg in data, "--store keep did not keep the JPEG byte for byte"
PY
fi

if [[ -f $DATA/cifar10/cifar10-test-jpg.tar.gz ]]; then
    mkdir cifar && tar xzf "$DATA/cifar10/cifar10-test-jpg.tar.gz" -C cifar && tar xzf "$DATA/cifar10/cifar10-train-jpg.tar.gz" -C cifar
    for part in test:10000 train:50000; do
        run fr-pack -q -o "${part%%:*}.frd" "cifar/${part%%:*}"
        expect_rc 0
        run fr-info -j -n 0 "${part%%:*}.frd"
        [[ $(json 'o["count"], o["num_classes"], o["class_names"][2], o["h"], o["c"]') == "(${part##*:}, 10, 'bird', 32, 3)" ]] || \
            fail "CIFAR-10 ${part%%:*}: $(json 'o["count"], o["class_names"]')"
    done
fi

if [[ -d $FM ]]; then
    for part in train:60000 t10k:10000; do
        run fr-pack -q -o "fm-${part%%:*}.frd" "$FM/${part%%:*}-images-idx3-ubyte.gz"
        expect_rc 0
        run fr-info -j -n 2 "fm-${part%%:*}.frd"
        [[ $(json 'o["count"], o["num_classes"], o["h"], o["w"], o["c"]') == "(${part##*:}, 10, 28, 28, 1)" ]] || fail "Fashion-MNIST ${part%%:*}"
    done
    # the first training image is an ankle boot (label 9); its pixels are the IDX bytes 16..799
    run fr-info -j -n 1 fm-train.frd
    [[ $(json 'o["records"][0]["label"]') == 9 ]] || fail "Fashion-MNIST: first label $(json 'o["records"][0]["label"]')"
    /usr/bin/python3 - "$FM/train-images-idx3-ubyte.gz" fm-train.frd <<'PY' || fail "Fashion-MNIST pixels differ"
import gzip, sys
px = gzip.open(sys.argv[1]).read()[16:16 + 784]
assert px in open(sys.argv[2], "rb").read()
PY
fi
exit 0
