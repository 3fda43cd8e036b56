# Plain classification trains: Fashion-MNIST (Debian's dataset-fashion-mnist), packed
# from its IDX files at 32x32 RGB, a tiny ResNet with the softmax head for 800 steps of
# 64 (under one epoch), scored by fr-train --val on the 10,000 test images. The test
# accuracy must reach 0.75 and beat nearest-class-mean on raw pixels (0.677) by 0.05.
source "$(dirname "$0")/lib.bash"
FM=/usr/share/datasets/fashion-mnist
[[ -f $FM/train-images-idx3-ubyte.gz && -f $FM/t10k-images-idx3-ubyte.gz ]] || skip "dataset-fashion-mnist is not installed"
cd "$T"
fr-pack -q --from idx --resize 32 --rgb -o train.frd "$FM/train-images-idx3-ubyte.gz" || fail "fr-pack train failed"
fr-pack -q --from idx --resize 32 --rgb -o test.frd "$FM/t10k-images-idx3-ubyte.gz" || fail "fr-pack test failed"
fr-train -q -a tiny-resnet --input 32 -H softmax -b 64 -n 800 --lr 0.1 --sched cosine --flip 0 --val test.frd -o run train.frd ||
    fail "fr-train failed"
acc=$(awk -F'\t' 'NR>1{a=$2} END{print a}' run/val.tsv)
echo "Fashion-MNIST test accuracy $acc"
awk -v a="$acc" 'BEGIN{exit !(a >= 0.75)}' || fail "Fashion-MNIST test accuracy $acc < 0.75"
have_numpy || exit 0
/usr/bin/python3 - "$acc" "$FM" <<'PY' || fail "test accuracy $acc does not beat nearest-class-mean by 0.05"
import gzip, sys
import numpy as np
d = sys.argv[2] + "/"
def imgs(f): return np.frombuffer(gzip.open(d + f).read(), np.uint8, offset=16).reshape(-1, 784).astype(np.float64)
def labs(f): return np.frombuffer(gzip.open(d + f).read(), np.uint8, offset=8)
X, Y = imgs("train-images-idx3-ubyte.gz"), labs("train-labels-idx1-ubyte.gz")
x, y = imgs("t10k-images-idx3-ubyte.gz"), labs("t10k-labels-idx1-ubyte.gz")
M = np.stack([X[Y == c].mean(0) for c in range(10)])
ncm = ((-2 * x @ M.T + (M * M).sum(1)[None]).argmin(1) == y).mean()
print(f"raw pixels, nearest class mean: {ncm:.4f}")
assert float(sys.argv[1]) >= ncm + 0.05, (sys.argv[1], ncm)
PY
exit 0
