#!/usr/bin/env python3
"""Parses a metrics exposition read from stdin with the reference Python parsers.

    check_metrics.py openmetrics < body   # the OpenMetrics 1.0 text parser (strict)
    check_metrics.py prometheus < body    # the Prometheus 0.0.4 text parser

Exits 0 and prints the number of families when the text parses; exits 1 with the parser's
error otherwise. Uses prometheus_client (pip install prometheus_client).
"""

import sys

from prometheus_client.openmetrics.parser import text_string_to_metric_families as openmetrics
from prometheus_client.parser import text_string_to_metric_families as prometheus


def main() -> int:
    if len(sys.argv) != 2 or sys.argv[1] not in ("openmetrics", "prometheus"):
        print(__doc__, file=sys.stderr)
        return 2
    parse = openmetrics if sys.argv[1] == "openmetrics" else prometheus
    text = sys.stdin.read()
    try:
        families = list(parse(text))
    except Exception as e:  # the parsers raise ValueError and friends
        print(f"{sys.argv[1]} parser refused the text: {e}", file=sys.stderr)
        return 1
    names = [f.name for f in families]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        print(f"families split or repeated: {duplicates}", file=sys.stderr)
        return 1
    print(len(families))
    return 0


if __name__ == "__main__":
    sys.exit(main())
