"""Benchmark: bytes and time to the tensor, an NWB file streamed from a URL vs read from disk.

Each file is served by a loopback HTTP server with byte ranges (``tests/_http.py``), once as fast
as loopback goes and once as a modelled network (20 ms per request, 100 Mbit/s: a stand-in for a
lab's connection to S3), and read by ``read_nwb(url, ...)``. Baselines measured in the same run: the local read of the same
file, and "download, then read": fetching the whole file over the same server and reading the
copy. Files: the two real DANDI:000006 sessions (one unit each; from ../shared/data, skipped when
absent) and a synthetic session of 200 units x 20,000 spikes (32 MB of spike times), read for
3 units and for all units. Every streamed tensor is checked to equal the local one.

Writes benchmarks/results/stream.json. Run:  python benchmarks/stream.py [--small]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import requests
from _results import write_results

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))
from _http import RangeServer  # noqa: E402
from _nwb_files import many_units_nwb  # noqa: E402

from neurogeom.io.nwb import read_nwb  # noqa: E402

DANDI = REPO.parent / "shared" / "data" / "dandi000006_alm_nwb"
#: (name, delay per request in s, bandwidth in bytes/s)
NETWORKS = (("loopback", 0.0, None), ("20ms_100Mbit", 0.02, 100e6 / 8))


def timed(fn, repeats: int):
    best, out = np.inf, None
    for _ in range(repeats):
        t0 = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - t0)
    return best, out


def measure(path: Path, settings: dict, repeats: int, tmp: Path) -> dict:
    t_local, local = timed(lambda: read_nwb(path, **settings), repeats)
    size = path.stat().st_size
    row = {
        "file": path.name,
        "file_bytes": size,
        "units_read": int(local.sizes["unit"]),
        "tensor_shape": list(local.shape),
        "local_s": round(t_local, 4),
    }
    for tag, latency, bandwidth in NETWORKS:
        with RangeServer(path.parent, latency_s=latency, bytes_per_s=bandwidth) as server:
            url = server.file_url(path.name)
            server.reset()
            streamed = read_nwb(url, **settings)
            served, n_req = server.served_bytes, server.n_requests
            assert np.array_equal(streamed.values, local.values), path
            t_stream, _ = timed(lambda url=url: read_nwb(url, **settings), repeats)

            def download_then_read(url=url):
                copy = tmp / f"download_{path.name}"
                copy.write_bytes(requests.get(url, timeout=60).content)
                return read_nwb(copy, **settings)

            t_download, _ = timed(download_then_read, repeats)
        row[f"streamed_bytes_{tag}"] = served
        row[f"streamed_requests_{tag}"] = n_req
        row[f"streamed_s_{tag}"] = round(t_stream, 4)
        row[f"download_then_read_s_{tag}"] = round(t_download, 4)
        row[f"streamed_over_download_time_{tag}"] = round(t_stream / t_download, 3)
    row["streamed_fraction_of_file"] = round(row["streamed_bytes_loopback"] / size, 4)
    return row


def main() -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--small", action="store_true", help="20 units x 2,000 spikes (smoke)")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    n_units, n_spikes = (20, 2000) if args.small else (200, 20000)
    load_before = os.getloadavg()
    rows = []
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        dandi = dict(align="cue_start_time", window_s=(-1.0, 2.0), bin_size_s=0.25)
        if DANDI.is_dir():
            for path in sorted(DANDI.glob("*.nwb")):
                rows.append(
                    {"case": "DANDI:000006, every unit", **measure(path, dandi, args.repeats, tmp)}
                )
        served = tmp / "served"
        served.mkdir()
        session = many_units_nwb(served / "synthetic_200_units.nwb", n_units, n_spikes)
        synth = dict(align="start_time", window_s=(0.0, 2.0), bin_size_s=0.25)
        rows.append(
            {
                "case": "synthetic, 3 units",
                **measure(
                    session, {**synth, "units": [3, n_units // 2, n_units - 3]}, args.repeats, tmp
                ),
            }
        )
        rows.append({"case": "synthetic, every unit", **measure(session, synth, args.repeats, tmp)})
    result = {
        "benchmark": "stream",
        "what": "read_nwb of an http URL (remfile, lazy byte ranges) vs the same file on disk",
        "baseline": "read_nwb of the local file; and download the whole file, then read it",
        "server": "loopback HTTP/1.1 with Range requests (tests/_http.py); networks (name, "
        f"delay per request s, bytes/s): {list(NETWORKS)}",
        "rows": rows,
        "repeats": args.repeats,
        "timing": "best of repeats, wall clock; bytes = response bodies the server sent",
        "load_average_before": [round(x, 2) for x in load_before],
        "load_average_after": [round(x, 2) for x in os.getloadavg()],
        "machine": f"{platform.processor() or platform.machine()}, {os.cpu_count()} cpus (shared)",
    }
    if args.small:
        print(json.dumps(result, indent=1))
    else:
        write_results("stream", result)
    return result


if __name__ == "__main__":
    main()
