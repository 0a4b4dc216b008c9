"""Hillstrom e-mails: does uplift targeting beat random e-mailing on real data?

Kevin Hillstrom's experiment (2008) sent 64,000 customers, at random with
probability 1/3 each, no e-mail, a men's-merchandise e-mail or a
women's-merchandise e-mail, and recorded visits, conversions and spend over
two weeks. The script splits the customers at random into two halves and
cross-fits: it learns on one half and scores the other, then the other way
round, so every customer is scored once by a policy learned without them
(``--folds 1`` learns on one half and scores only the other). Learning means
choosing the effect model by cross-validation inside the training half,
fitting it and an outcome model there; scoring means allocating at most one
e-mail per customer of the other half under a cap on how many are sent
(25 %, 50 %, 100 % of customers; $0.10 per e-mail is charged against spend)
and scoring, by inverse propensity weighting and doubly robust estimates
pooled over both halves with standard errors:

* the optimised allocation,
* a random allocation of the same size (each e-mailed customer gets a random
  e-mail),
* the best single e-mail (best average effect on the training half) to a
  random subset of the same size,
* no e-mail.

It prints the table, the paired difference of the optimised allocation to
random (and to the best single e-mail) with its standard error, each fold's
own difference, the Qini of each e-mail, and says plainly whether the
optimised allocation beats random. With ``--out`` it saves one PNG per
outcome (Qini curves, value against budget, e-mail mix) and the pooled and
per-fold tables as CSV.

This is the same code as ``upliftopt hillstrom``:

    python examples/hillstrom_email.py --outcome visit --budgets 0.25,0.5 --out hillstrom

The job lives in ``upliftopt/demos/hillstrom.py`` (``run_hillstrom``); the
results are discussed in ``docs/hillstrom.md``.
"""

from upliftopt.demos.hillstrom import main

if __name__ == "__main__":
    raise SystemExit(main())
