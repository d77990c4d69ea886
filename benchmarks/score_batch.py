"""Benchmark: `triage-app score` on 100,000 synthetic referrals, against json.load + json.dump of the same file.

Both run as fresh Python processes on the same file in the same run, several times each, and the best time
of each is compared (these machines are shared and noisy). Target: the score command within 3x the baseline.

    python benchmarks/score_batch.py [--count 100000] [--repeat 3]
"""

from __future__ import annotations

import argparse
import json
import random
import subprocess
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from triage_app.domain.demo import synthetic_referral

AS_OF = date(2026, 11, 2)
BASELINE = "import json,sys; json.dump(json.load(open(sys.argv[1], encoding='utf-8')), open(sys.argv[2], 'w'))"


def best_of(command: list[str], repeat: int) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        result = subprocess.run(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, check=False)
        times.append(time.perf_counter() - start)
        if result.returncode not in (0, 2):
            raise SystemExit(f"{command[:4]} failed: {result.stderr.decode()[-500:]}")
    return min(times)


def main() -> None:
    """Print throughput and the ratio to the JSON baseline."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--count", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()

    rng = random.Random(20261102)
    with tempfile.TemporaryDirectory() as folder:
        source = Path(folder) / "referrals.json"
        source.write_text(json.dumps([synthetic_referral(i, rng, AS_OF) for i in range(args.count)]), encoding="utf-8")
        size_mb = source.stat().st_size / 1e6
        baseline = best_of([sys.executable, "-c", BASELINE, str(source), str(Path(folder) / "copy.json")], args.repeat)
        score = best_of(
            [sys.executable, "-m", "triage_app", "score", str(source), "--as-of", AS_OF.isoformat()], args.repeat
        )
    print(f"referrals: {args.count:,} ({size_mb:.1f} MB of JSON)")
    print(f"baseline json.load + json.dump: {baseline:.2f} s")
    print(f"triage-app score:               {score:.2f} s  ({args.count / score:,.0f} referrals/s)")
    print(f"ratio score / baseline:         {score / baseline:.2f}x  (target: at most 3x)")


if __name__ == "__main__":
    main()
