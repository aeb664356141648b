"""Child process of ``benchmarks/run.py``: peak resident memory of FGGB maps for one chunk size.

Usage: ``python benchmarks/_peak_rss.py CHUNK`` (``CHUNK``: ``1``, ``16``, ... or ``all``).
Prints one JSON line: the RSS after loading SFace and one image, the peak RSS (``VmHWM``, reset
after loading where the kernel allows) while computing the 128 per-dimension maps of that image,
and the wall time.
"""

from __future__ import annotations

import json
import resource
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import torch  # noqa: E402

from captum_fggb import FGGB, FaceVerificationPair, models, samples  # noqa: E402


def _status_kib(field: str) -> int:
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1])
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux


def main() -> None:
    chunk_arg = sys.argv[1]
    if len(sys.argv) > 2:
        torch.set_num_threads(int(sys.argv[2]))
    pair = FaceVerificationPair(models.sface())
    probe, _ = samples.load_pair(*samples.GENUINE_PAIR)
    with torch.no_grad():
        pair.embed(probe)  # allocator warm-up, like any first call
    baseline = _status_kib("VmRSS")
    try:  # reset VmHWM so that loading the model does not count (Linux >= 4.0)
        Path("/proc/self/clear_refs").write_text("5")
        reset = True
    except OSError:
        reset = False
    dims = 128
    chunk = dims if chunk_arg == "all" else int(chunk_arg)
    fggb = FGGB(pair, strategy="sequential" if chunk == 1 else "batched")
    start = time.perf_counter()
    fggb.dimension_maps(probe, internal_batch_size=None if chunk == 1 else chunk)
    wall = time.perf_counter() - start
    print(json.dumps({"chunk": chunk, "baseline_mib": baseline / 1024, "peak_mib": _status_kib("VmHWM") / 1024,
                      "peak_reset": reset, "wall_s": wall}))


if __name__ == "__main__":
    main()
