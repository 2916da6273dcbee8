"""Write the Fashion-MNIST test set, preprocessed as hq's dataset specs, as .npy files.

For bench/ort_accuracy.js (Node has no IDX reader): the 10,000 t10k images in file order,
preprocessed exactly as hq's fashion-mnist-test / fashion-mnist-test-32 specs and
../shared/models/README.md say ((x - 128) / 128; for 3x32x32, 2 zero pixels of padding per
side before normalizing, then 3 channels), via bench/torch_calib.py's reader. Writes
    OUT_DIR/fashion-mnist-test.images.npy     float32 [10000, 1, 28, 28]
    OUT_DIR/fashion-mnist-test-32.images.npy  float32 [10000, 3, 32, 32]
    OUT_DIR/fashion-mnist-test.labels.npy     int64   [10000]
Existing files are kept (delete them to rewrite). Run with Debian's /usr/bin/python3:
    python3 bench/export_test_set.py OUT_DIR
"""
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from torch_calib import test_set  # noqa: E402


def main():
    if len(sys.argv) != 2:
        raise SystemExit("usage: export_test_set.py OUT_DIR")
    out = sys.argv[1]
    os.makedirs(out, exist_ok=True)
    for name, size32 in (("fashion-mnist-test", False), ("fashion-mnist-test-32", True)):
        path = os.path.join(out, name + ".images.npy")
        labels_path = os.path.join(out, "fashion-mnist-test.labels.npy")
        if os.path.exists(path) and os.path.exists(labels_path):
            continue
        images, labels = test_set(size32)
        np.save(path + ".tmp.npy", images.astype(np.float32))
        os.replace(path + ".tmp.npy", path)
        np.save(labels_path, labels.astype(np.int64))
        print("wrote %s %s" % (path, images.shape), file=sys.stderr)


if __name__ == "__main__":
    main()
