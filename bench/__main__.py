"""Every benchmark in one command: structure, estimators, the incremental decay update, store writes, ingest,
the device log, serial offload, the web side.

    .venv/bin/python -m bench                    # quick profile (10k and 100k edges), a few minutes
    .venv/bin/python -m bench --sizes 1M         # long profile

Each part prints its own table of medians and ratios against the baselines
it measures in the same run; see bench/README.md.
"""
from __future__ import annotations

import argparse
import sys

from . import decay, device_log, estimators, ingest, serial_offload, store, structure, web


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench", description=__doc__.split("\n")[0])
    p.add_argument("--sizes", default="10k,100k", help="graph edges and survey reports, e.g. 10k,100k or 1M")
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--device-blocks", type=int, default=212, help="the device log bench's flash, in 4 KiB blocks")
    a = p.parse_args(argv)
    structure.main(["--sizes", a.sizes, "--repeats", str(a.repeats)])
    print()
    estimators.main(["--sizes", a.sizes, "--repeats", str(a.repeats)])
    print()
    sys.argv = ["bench.decay", "--repeats", str(a.repeats), "--events", str(min(200_000, 2 * max(structure.parse_size(s) for s in a.sizes.split(","))))]
    decay.main()
    print()
    store.main(["--records", str(min(20_000, max(1000, structure.parse_size(a.sizes.split(",")[0])))),
                "--repeats", str(min(a.repeats, 3))])
    print()
    ingest.main(["--records", str(min(8000, max(200, structure.parse_size(a.sizes.split(",")[0])))),
                 "--repeats", str(min(a.repeats, 3))])
    print()
    serial_offload.main(["--records", str(min(500, max(100, structure.parse_size(a.sizes.split(",")[0]) // 10))),
                         "--repeats", str(min(a.repeats, 3))])
    print()
    # the web side at a fifth of the first size's organisations (its own default, 5,000 / 50,000, is the long run)
    reports = structure.parse_size(a.sizes.split(",")[0])
    web.main(["--orgs", str(max(100, reports // 5)), "--reports", str(reports), "--repeats", str(min(a.repeats, 3)),
              "--replicates", str(20 if reports < 10_000 else 200)])
    print()
    return device_log.main(["--blocks", str(a.device_blocks)])


if __name__ == "__main__":
    raise SystemExit(main())
