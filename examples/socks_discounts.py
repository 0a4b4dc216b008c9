"""Socks discounts: the whole pipeline on synthetic data with known effects.

Three discounts (10 %, 20 %, 50 % off, costing 0.1, 0.2 and 0.3 per customer)
were each tested in an experiment of 10,000 customers. The script fits one
double-machine-learning CATE model per discount, plots estimated against true
effects, allocates the discounts under an exact budget of 3,000 with the naive
greedy ranking, SCIP, the exact knapsack solver and a risk-averse variant, and
prints the TRUE value each allocation earns next to the oracle optimum.

This is the same code as ``upliftopt demo``:

    python examples/socks_discounts.py --n 10000 --budget 3000 --out socks-demo

The pipeline, written out, lives in ``upliftopt/demos/socks.py`` (``run_socks``).
"""

from upliftopt.demos.socks import main

if __name__ == "__main__":
    raise SystemExit(main())
