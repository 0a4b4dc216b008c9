"""The Hillstrom e-mail job: ``upliftopt hillstrom`` (also ``examples/hillstrom_email.py``).

Does targeting e-mails with an uplift model beat sending them at random, on
real data? Kevin Hillstrom's experiment randomised 64,000 customers to no
e-mail, a men's or a women's e-mail with probability 1/3 each, so every
policy can be scored on customers it was not learned from, without a model of
who got what.

The job, for each outcome (visit, conversion, spend):

1. Split the customers at random into two halves, A and B (``seed``).
2. Cross-fit (``folds=2``, the default): fold 1 learns on A and is scored on
   B, fold 2 learns on B and is scored on A, so every customer is scored
   exactly once, by a policy and an outcome model fitted without them.
   ``folds=1`` runs fold 1 only (one held-out split; half of the data is
   never scored).
3. Learn, on the fold's training half only: choose the effect model by
   cross-validation among a few candidates (:data:`CANDIDATES`), scored by
   the IPW value of the allocations each one makes on the held-out CV folds,
   then refit the winner on the whole training half. Also fit the outcome
   model used by the doubly robust (DR) scores
   (:class:`~upliftopt.evaluate.ArmOutcomeModel`), and estimate each e-mail's
   average effect (difference in means).
4. Score, on the fold's scored half: for each budget (a cap on the share of
   that half's customers e-mailed, so 25 % of each half is 25 % overall),
   allocate at most one e-mail per customer with
   :func:`~upliftopt.allocate`, and give every row an IPW and a DR score under
   four policies: the optimised allocation; a random allocation of the same
   size; the best single e-mail (best average effect on the training half)
   to a random subset of the same size; and no e-mail at all.
5. Pool: a policy's value is the mean of its per-row scores over the scored
   rows of every fold, with standard error ``sd / sqrt(n)`` of those scores;
   paired differences (optimised minus random, minus the best single e-mail)
   are taken per row and pooled the same way. Each fold's own numbers are
   reported too (:attr:`HillstromReport.fold_table`), and the output says
   plainly whether the optimised allocation beats random.

What is estimated: with two folds, the value of the *learning procedure* (learn
a policy on half of the customers, apply it to the other half), averaged over
the two policies it produced, ``(n_B V(pi_A) + n_A V(pi_B)) / n`` with
``V(pi_A)`` the value of the policy learned on A. Every score is out of fold:
given the policy and outcome model of its fold, a row's score has mean equal
to that policy's value, and rows are independent, so ``sd / sqrt(n)`` of the
pooled scores is a valid standard error (slightly conservative: it also
counts the difference between the two folds' means). The two folds are not
exactly independent, since each half trains the policy scored on the other;
as in cross-fitted double machine learning and policy learning, that
dependence vanishes as the learned policies stabilise with n.

Budget and cost: the budget row of the allocation counts e-mails (each uses 1
of the cap ``floor(budget * n_scored_half)``); the cost per e-mail (``cost``,
in dollars) is subtracted from the value for ``spend`` only, as visits and
conversions are not money. :func:`~upliftopt.allocate` maximises
``values - costs``, so it receives ``values = estimated effect - cost + 1`` and
``costs = 1``: the objective is then the estimated net effect and the spend is
the number of e-mails. With a positive net effect for everyone the cap binds;
customers whose best estimated net effect is not positive get no e-mail.

The two random policies are scored by their expectation over the random draw:
a customer of a fold is e-mailed with probability ``m / n`` (``m`` the number
the optimised allocation e-mails in that fold, ``n`` the fold's scored rows)
and then gets each e-mail with probability 1/2 (random) or the best one
(single), so each row's score is that average of its per-label scores. This
is exactly the mean, over all possible draws, of the score of one drawn
allocation: it estimates the same value without adding the noise of one
particular draw (see ``docs/hillstrom.md`` for how much that is).
"""

from __future__ import annotations

import argparse
import logging
import math
import numbers
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from statistics import NormalDist
from typing import Any, TextIO

import numpy as np
import pandas as pd

from .._progress import StageTimer, format_table
from ..exceptions import UpliftOptError

__all__ = [
    "CANDIDATES",
    "DEFAULT_BUDGETS",
    "DEFAULT_COST",
    "DEFAULT_FOLDS",
    "OUTCOMES",
    "POLICIES",
    "QUICK_N",
    "TABLE_COLUMNS",
    "HillstromReport",
    "build_parser",
    "format_report",
    "main",
    "run_hillstrom",
    "verdict",
]

logger = logging.getLogger(__name__)

#: Outcomes the job can analyse (``"all"`` on the command line runs every one).
OUTCOMES = ("visit", "conversion", "spend")
#: Default budgets: shares of the scored customers e-mailed at most.
DEFAULT_BUDGETS = (0.25, 0.5, 1.0)
#: Default cost of one e-mail, in dollars (subtracted for ``spend`` only).
DEFAULT_COST = 0.10
#: Default number of folds: 2 cross-fits over both halves, 1 is a single split.
DEFAULT_FOLDS = 2
#: Rows used by ``--quick`` (a random subsample, split in half as usual).
QUICK_N = 6_000
#: Policies scored at every budget, then the all-control policy once.
POLICIES = ("optimised", "random", "best single e-mail", "no e-mail")
#: Probability of each label in the experiment.
PROPENSITY = 1.0 / 3.0

# Labels of the experiment (checked against the loaded data).
_CONTROL = "No E-Mail"
_ARMS = ("Mens E-Mail", "Womens E-Mail")
_HALVES = ("A", "B")

_CV_FOLDS = 3
_QUICK_CV_FOLDS = 2
_ALPHA = 0.05
# Smaller subsamples leave too few converters per label and fold to fit anything.
_MIN_N = 600


# --------------------------------------------------------------------------
# Effect models: the candidates chosen among on the training half
# --------------------------------------------------------------------------


@dataclass(frozen=True)
class _Candidate:
    """An effect model.

    ``fit_predict(X_train, T_train, outcomes_train, X_eval, seed, outcome)``
    fits on the training rows (all three outcomes are passed, so a model may
    use another outcome than the one it estimates the effect on) and returns
    the estimated effect of each e-mail (columns) for each row of ``X_eval``.
    """

    name: str
    description: str
    fit_predict: Callable[..., pd.DataFrame]
    outcomes: tuple[str, ...] = OUTCOMES


def _t_learner(estimator: Any) -> Callable[..., pd.DataFrame]:
    """Effect of each e-mail as the difference of two per-label outcome regressions."""

    def fit_predict(
        X: pd.DataFrame, T: pd.Series, y: pd.Series, X_eval: pd.DataFrame, seed: int
    ) -> pd.DataFrame:
        from ..evaluate import ArmOutcomeModel

        model = ArmOutcomeModel(estimator=estimator(), n_jobs=1, random_state=seed)
        mu = model.fit(X, T, y).predict(X_eval)
        return mu[list(_ARMS)].sub(mu[_CONTROL], axis=0)

    return fit_predict


def _linear() -> Any:
    from sklearn.linear_model import LinearRegression

    return LinearRegression()


def _dml_linear(
    X: pd.DataFrame, T: pd.Series, y: pd.Series, X_eval: pd.DataFrame, seed: int
) -> pd.DataFrame:
    from ..cate import PerTreatmentDML

    model = PerTreatmentDML(control=_CONTROL, final_stage="linear", n_jobs=1, random_state=seed)
    return model.fit(X, T, y).effect(X_eval)[list(_ARMS)]


def _on_outcome(fit_predict: Callable[..., pd.DataFrame]) -> Callable[..., pd.DataFrame]:
    """Adapt a model of one outcome to ``(X, T, outcomes, X_eval, seed, outcome)``."""

    def run(
        X: pd.DataFrame,
        T: pd.Series,
        outcomes: pd.DataFrame,
        X_eval: pd.DataFrame,
        seed: int,
        outcome: str,
    ) -> pd.DataFrame:
        return fit_predict(X, T, outcomes[outcome], X_eval, seed)

    return run


def _conversion_times_order_value(
    X: pd.DataFrame,
    T: pd.Series,
    outcomes: pd.DataFrame,
    X_eval: pd.DataFrame,
    seed: int,
    outcome: str,
) -> pd.DataFrame:
    # Spend = conversion x order value. The effect on conversion is a far less
    # noisy target than spend itself (a handful of large orders dominate spend);
    # if e-mails change whether, not how much, people buy, the effect on spend is
    # the effect on conversion times the mean order value.
    converted = outcomes["conversion"].to_numpy() > 0
    if not converted.any():
        # Possible in a small subsample's fold: nothing to learn, so no effect.
        logger.warning("conversion-x-order: no training customer converted; effect set to 0")
        return pd.DataFrame(0.0, index=X_eval.index, columns=pd.Index(_ARMS, dtype=object))
    order_value = float(outcomes["spend"].to_numpy()[converted].mean())
    effect = _t_learner(_linear)(X, T, outcomes["conversion"], X_eval, seed)
    return effect * order_value


#: Effect models the job chooses among, per outcome, by cross-validation on
#: the training half.
CANDIDATES: tuple[_Candidate, ...] = (
    _Candidate(
        "dml-linear",
        "PerTreatmentDML: one LinearDML per e-mail, LightGBM nuisances",
        _on_outcome(_dml_linear),
    ),
    _Candidate(
        "t-linear",
        "T-learner: one least-squares regression per label",
        _on_outcome(_t_learner(_linear)),
    ),
    _Candidate(
        "t-lightgbm",
        "T-learner: one LightGBM regression per label",
        _on_outcome(_t_learner(lambda: None)),  # None: ArmOutcomeModel's LightGBM default
    ),
    _Candidate(
        "conversion-x-order",
        "effect on conversion (T-learner, linear) x mean order value",
        _conversion_times_order_value,
        outcomes=("spend",),
    ),
)


# --------------------------------------------------------------------------
# Scores of the policies
# --------------------------------------------------------------------------


def _label_scores(
    y: pd.Series,
    T: pd.Series,
    *,
    method: str,
    mu: pd.DataFrame | None,
    costs: Mapping[str, float] | None,
) -> dict[str, np.ndarray]:
    """Per-row IPW or DR score of giving every row each label (net of e-mail cost)."""
    from ..evaluate import policy_value

    return {
        label: policy_value(
            label,
            y,
            T,
            control=_CONTROL,
            propensity=PROPENSITY,
            method=method,
            outcome_predictions=mu,
            costs=costs,
        ).scores
        for label in (_CONTROL, *_ARMS)
    }


def _allocation_scores(labels: np.ndarray, scores: Mapping[str, np.ndarray]) -> np.ndarray:
    """Per-row score of a deterministic policy from the per-label scores."""
    out = np.array(scores[_CONTROL], dtype=np.float64, copy=True)
    for arm in _ARMS:
        rows = labels == arm
        out[rows] = scores[arm][rows]
    return out


def _mixture_scores(
    share: float, arm_weights: Mapping[str, float], scores: Mapping[str, np.ndarray]
) -> np.ndarray:
    """Expected per-row score of e-mailing a random ``share``, arms drawn by ``arm_weights``."""
    out = (1.0 - share) * scores[_CONTROL]
    for arm, weight in arm_weights.items():
        out = out + share * weight * scores[arm]
    return out


def _mean_se(scores: np.ndarray) -> tuple[float, float]:
    return float(scores.mean()), float(scores.std(ddof=1) / math.sqrt(scores.shape[0]))


def _allocate(effects: pd.DataFrame, cost: float, cap: int) -> Any:
    """At most one e-mail per customer, at most ``cap`` e-mails, maximising net effect."""
    from ..allocation import allocate

    # allocate() maximises values - costs with sum(costs) <= max_budget; costs of
    # 1 make the budget row count e-mails, and the + 1 cancels them in the objective.
    return allocate(effects - cost + 1.0, 1.0, max_budget=float(cap))


def verdict(lift: float, se: float, *, baseline: str = "random", alpha: float = _ALPHA) -> str:
    """Say in words whether a paired lift over a baseline is distinguishable from zero.

    Parameters
    ----------
    lift : float
        Estimated difference (policy minus baseline) per customer.
    se : float
        Its standard error (>= 0).
    baseline : str, default "random"
        Name of the policy compared with.
    alpha : float, default 0.05
        One minus the confidence level; the policy beats the baseline when the
        ``1 - alpha`` normal interval of the lift lies above zero.

    Returns
    -------
    str
        ``"beats random (z = 4.1; ...)"``, ``"does worse than random (...)"``
        or ``"does not beat random (...)"`` with the z statistic and interval.

    Examples
    --------
    >>> from upliftopt.demos.hillstrom import verdict
    >>> verdict(0.012, 0.003)
    'beats random (z = 4.0; lift +0.012 per customer, 95% CI [+0.00612, +0.0179])'
    >>> verdict(0.16, 0.16).split(";")[0]
    'does not beat random (z = 1.0'
    """
    lift, se = float(lift), float(se)
    if not math.isfinite(lift) or not (math.isfinite(se) and se >= 0):
        raise ValueError(f"lift and se must be finite with se >= 0; got lift={lift}, se={se}")
    if not 0.0 < alpha < 1.0:
        raise ValueError(f"alpha must be in (0, 1); got {alpha!r}")
    width = NormalDist().inv_cdf(1.0 - alpha / 2.0) * se
    low, high = lift - width, lift + width
    if se > 0:
        z = f"{lift / se:.1f}"
    elif lift == 0:
        z = "0"
    else:  # a lift measured without noise
        z = "inf" if lift > 0 else "-inf"
    detail = f"z = {z}; lift {lift:+.3g} per customer, {1 - alpha:.0%} CI [{low:+.3g}, {high:+.3g}]"
    if low > 0:
        return f"beats {baseline} ({detail})"
    if high < 0:
        return f"does worse than {baseline} ({detail})"
    return f"does not beat {baseline} ({detail}: the interval includes 0)"


# --------------------------------------------------------------------------
# The report
# --------------------------------------------------------------------------

#: Columns of :attr:`HillstromReport.table` (``fold_table`` adds ``fold`` first).
TABLE_COLUMNS = (
    "outcome",
    "budget",
    "policy",
    "emails",
    "ipw",
    "ipw_se",
    "dr",
    "dr_se",
    "vs_random",
    "vs_random_se",
    "vs_random_z",
    "vs_random_ipw",
    "vs_random_ipw_se",
    "vs_single",
    "vs_single_se",
)


@dataclass(frozen=True, eq=False)
class HillstromReport:
    """Results of :func:`run_hillstrom`.

    Attributes
    ----------
    table : DataFrame
        Pooled over the folds: one row per outcome, budget and policy
        (:data:`TABLE_COLUMNS`): ``budget`` (share of each fold's scored
        customers e-mailed at most; 0 for the no-e-mail row), ``policy``
        (:data:`POLICIES`), ``emails`` (e-mails sent over all folds, expected
        number for the random policies), ``ipw`` / ``dr`` the value per
        scored customer (mean outcome, net of the e-mail cost for spend) with
        standard errors ``ipw_se`` / ``dr_se``, and the paired difference to
        the random policy at the same budget by DR (``vs_random``,
        ``vs_random_se``, ``vs_random_z``) and by IPW (``vs_random_ipw``,
        ``vs_random_ipw_se``), and for the optimised allocation the paired DR
        difference to the best single e-mail (``vs_single``,
        ``vs_single_se``); NaN where not applicable. Every value is the mean
        of per-row scores over all scored rows, every standard error
        ``sd / sqrt(n)`` of them.
    fold_table : DataFrame
        The same numbers for each fold on its own scored half: column
        ``fold`` (1 or 2) then :data:`TABLE_COLUMNS`. A pooled value is the
        row-weighted mean of the folds' values.
    mix : DataFrame
        E-mails of each kind sent by the optimised allocations, summed over
        folds, per outcome and budget (columns ``outcome``, ``budget``,
        ``arm``, ``emails``).
    qini : DataFrame
        Normalised Qini area (:func:`~upliftopt.evaluate.qini_auc`) of each
        fold's chosen model's effect estimates on its scored half, per
        outcome, fold and arm (columns ``outcome``, ``fold``, ``arm``,
        ``model``, ``qini``).
    selection : DataFrame
        Cross-validation inside each fold's training half: per outcome, fold
        and candidate model, the mean IPW lift over random across budgets
        (``cv_lift``), its standard error and whether it was chosen.
    verdicts : dict
        ``{(outcome, budget): (against random, against the best single
        e-mail)}``: two sentences (see :func:`verdict`) saying whether the
        pooled optimised allocation beats each.
    best_single : dict
        ``{outcome: (e-mail of fold 1, ...)}``: per fold, the e-mail with the
        best average effect on its training half.
    figures : tuple of Path
        PNG files written (empty without ``out``).
    csv : Path or None
        ``hillstrom_results.csv`` when ``out`` was given: the pooled table
        (``fold`` = ``"pooled"``) followed by ``fold_table``.
    timings : tuple of (str, float)
        Seconds per stage.
    settings : dict
        ``seed``, ``cost``, ``budgets``, ``outcomes``, ``folds``, ``n`` (rows
        used), ``halves`` (sizes of halves A and B), ``n_scored`` (rows
        scored over all folds: ``n`` with two folds, half B with one).
    splits : tuple of (ndarray, ndarray)
        Per fold, the positions (in :func:`~upliftopt.load_hillstrom`'s rows)
        of the customers it was fitted on and of those it scored.
    assignments : DataFrame
        One row per scored customer (index: position in the data): the
        ``fold`` that scored it and, per outcome and budget (columns
        ``"visit@0.25"`` ...), the label the optimised allocation gave it
        (``"No E-Mail"`` when none), so every number can be recomputed.
    """

    table: pd.DataFrame
    fold_table: pd.DataFrame
    mix: pd.DataFrame
    qini: pd.DataFrame
    selection: pd.DataFrame
    verdicts: dict[tuple[str, float], tuple[str, str]]
    best_single: dict[str, tuple[str, ...]]
    figures: tuple[Path, ...]
    csv: Path | None
    timings: tuple[tuple[str, float], ...]
    settings: dict[str, Any] = field(default_factory=dict)
    splits: tuple[tuple[np.ndarray, np.ndarray], ...] = ()
    assignments: pd.DataFrame = field(default_factory=pd.DataFrame)


# --------------------------------------------------------------------------
# Validation
# --------------------------------------------------------------------------


def _check_outcomes(outcomes: Any) -> tuple[str, ...]:
    if isinstance(outcomes, str):
        outcomes = OUTCOMES if outcomes == "all" else (outcomes,)
    try:
        chosen = tuple(outcomes)
    except TypeError:
        raise ValueError(
            f"outcomes must be a sequence of outcome names; got {outcomes!r}"
        ) from None
    if not chosen:
        raise ValueError("outcomes is empty; choose from " + ", ".join(map(repr, OUTCOMES)))
    unknown = [o for o in chosen if o not in OUTCOMES]
    if unknown:
        raise ValueError(
            f"unknown outcome(s) {', '.join(map(repr, unknown))}; choose from "
            + ", ".join(map(repr, OUTCOMES))
        )
    return tuple(dict.fromkeys(chosen))


def _check_budgets(budgets: Any) -> tuple[float, ...]:
    try:
        values = [float(b) for b in budgets]
    except (TypeError, ValueError):
        raise ValueError(f"budgets must be numbers in (0, 1]; got {budgets!r}") from None
    if not values:
        raise ValueError("budgets is empty; give shares of customers e-mailed, e.g. 0.25,0.5")
    bad = [b for b in values if not (0.0 < b <= 1.0)]
    if bad:
        raise ValueError(
            f"budgets are shares of customers e-mailed and must lie in (0, 1]; got {bad!r}"
        )
    return tuple(sorted(set(values)))


def _check_cost(cost: Any) -> float:
    try:
        value = float(cost)
    except (TypeError, ValueError):
        raise ValueError(f"cost must be a number of dollars per e-mail; got {cost!r}") from None
    if not (math.isfinite(value) and value >= 0):
        raise ValueError(f"cost must be finite and >= 0 dollars per e-mail; got {cost!r}")
    return value


def _check_int(value: Any, name: str, low: int, high: int | None = None) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise ValueError(f"{name} must be an integer; got {value!r}")
    if value < low or (high is not None and value > high):
        bounds = f">= {low}" if high is None else f"between {low} and {high}"
        raise ValueError(f"{name} must be {bounds}; got {value!r}")
    return int(value)


def _check_folds(folds: Any) -> int:
    if isinstance(folds, bool) or not isinstance(folds, numbers.Integral) or folds not in (1, 2):
        raise ValueError(
            f"folds must be 1 (one held-out split) or 2 (cross-fit over both halves); got {folds!r}"
        )
    return int(folds)


# --------------------------------------------------------------------------
# The job
# --------------------------------------------------------------------------


def _costs_for(outcome: str, cost: float) -> dict[str, float] | None:
    """E-mail cost in the outcome's units: dollars for spend, nothing otherwise."""
    return {arm: cost for arm in _ARMS} if outcome == "spend" and cost > 0 else None


def _cap(budget: float, n: int) -> int:
    # The tiny slack keeps e.g. 0.29 * 100 (28.999999999999996) at 29 e-mails.
    return math.floor(budget * n + 1e-9)


def _select_model(
    candidates: Sequence[_Candidate],
    X: pd.DataFrame,
    T: pd.Series,
    outcomes: pd.DataFrame,
    outcome: str,
    *,
    budgets: Sequence[float],
    cost: float,
    cv_folds: int,
    seed: int,
) -> tuple[_Candidate, pd.DataFrame]:
    """Choose the candidate whose allocations gain most over random on held-out folds.

    Runs inside one training half only. Every candidate is fitted on the same
    CV folds; on each held-out CV fold it allocates at every budget, and the
    per-row IPW difference to the random policy of the same size is pooled
    over CV folds and averaged over budgets.
    """
    from sklearn.model_selection import StratifiedKFold

    y = outcomes[outcome]
    costs = _costs_for(outcome, cost)
    seeds = [int(s) for s in np.random.default_rng(seed).integers(0, 2**31 - 1, size=cv_folds + 1)]
    splitter = StratifiedKFold(n_splits=cv_folds, shuffle=True, random_state=seeds[-1])
    splits = list(splitter.split(np.zeros(len(T)), T.to_numpy().astype(str)))
    rows = []
    for candidate in candidates:
        lift = np.zeros((len(budgets), len(T)))
        for k, (train, test) in enumerate(splits):
            effects = candidate.fit_predict(
                X.iloc[train], T.iloc[train], outcomes.iloc[train], X.iloc[test], seeds[k], outcome
            )
            scores = _label_scores(y.iloc[test], T.iloc[test], method="ipw", mu=None, costs=costs)
            for b, budget in enumerate(budgets):
                allocation = _allocate(effects, cost if costs else 0.0, _cap(budget, len(test)))
                share = allocation.n_treated / len(test)
                chosen = _allocation_scores(allocation.labels(), scores)
                rand = _mixture_scores(share, {arm: 1 / len(_ARMS) for arm in _ARMS}, scores)
                lift[b, test] = chosen - rand
        mean, se = _mean_se(lift.mean(axis=0))
        rows.append({"outcome": outcome, "model": candidate.name, "cv_lift": mean, "cv_se": se})
    table = pd.DataFrame(rows)
    best = int(table["cv_lift"].to_numpy().argmax())
    table["chosen"] = np.arange(len(table)) == best
    return candidates[best], table


def _fit_and_score(
    outcome: str,
    data: Any,
    train: np.ndarray,
    test: np.ndarray,
    *,
    fold: int,
    budgets: Sequence[float],
    cost: float,
    cv_folds: int,
    seed: int,
    timer: StageTimer,
) -> dict[str, Any]:
    """One fold: learn on the ``train`` rows, allocate on the ``test`` rows, score every row.

    Returns the per-row IPW and DR scores of each policy (keyed by budget and
    policy; ``(0.0, "no e-mail")`` for all-control), the e-mails sent and
    labels given per budget, and what was learned.
    """
    from ..evaluate import ArmOutcomeModel, qini_auc, qini_curve

    X, T, outcomes = data.X, data.T, data.outcomes
    X_tr, T_tr, O_tr = X.iloc[train], T.iloc[train], outcomes.iloc[train]
    X_te, T_te, y_te = X.iloc[test], T.iloc[test], outcomes[outcome].iloc[test]
    costs = _costs_for(outcome, cost)
    unit_cost = cost if costs else 0.0
    # Fold 1 keeps the seeds of the single split, so folds=1 repeats its numbers.
    key = [seed, OUTCOMES.index(outcome)] + ([] if fold == 1 else [fold - 1])
    seeds = [int(s) for s in np.random.default_rng(key).integers(0, 2**31 - 1, size=3)]
    candidates = [c for c in CANDIDATES if outcome in c.outcomes]
    fit_half, scored_half = _HALVES[fold - 1], _HALVES[2 - fold]

    with timer.stage(
        f"{outcome}, fold {fold}: choose the effect model ({cv_folds}-fold CV on half {fit_half})"
    ):
        chosen, selection = _select_model(
            candidates,
            X_tr,
            T_tr,
            O_tr,
            outcome,
            budgets=budgets,
            cost=cost,
            cv_folds=cv_folds,
            seed=seeds[0],
        )
    with timer.stage(
        f"{outcome}, fold {fold}: fit {chosen.name} and the outcome model on half {fit_half}"
    ):
        effects = chosen.fit_predict(X_tr, T_tr, O_tr, X_te, seeds[1], outcome)
        mu = ArmOutcomeModel(n_jobs=1, random_state=seeds[2]).fit(X_tr, T_tr, O_tr[outcome])
        mu_te = mu.predict(X_te)
    # Best single e-mail: largest difference in means on the training half (the
    # cost is the same for both e-mails); ties go to the first.
    y_tr = O_tr[outcome]
    average = {arm: float(y_tr[T_tr == arm].mean()) for arm in _ARMS}
    best = max(_ARMS, key=lambda arm: (average[arm], -_ARMS.index(arm)))

    with timer.stage(f"{outcome}, fold {fold}: allocate and score half {scored_half}"):
        ipw = _label_scores(y_te, T_te, method="ipw", mu=None, costs=costs)
        dr = _label_scores(y_te, T_te, method="dr", mu=mu_te, costs=costs)
        n = len(test)
        scores: dict[tuple[float, str], tuple[np.ndarray, np.ndarray]] = {}
        emails, labels = {}, {}
        random_arms = {arm: 1 / len(_ARMS) for arm in _ARMS}
        for budget in budgets:
            # The cap applies within the fold: 25 % of each half is 25 % overall.
            allocation = _allocate(effects, unit_cost, _cap(budget, n))
            share = allocation.n_treated / n
            labels[budget] = allocation.labels()
            emails[budget] = float(allocation.n_treated)
            scores[(budget, "optimised")] = (
                _allocation_scores(labels[budget], ipw),
                _allocation_scores(labels[budget], dr),
            )
            scores[(budget, "random")] = (
                _mixture_scores(share, random_arms, ipw),
                _mixture_scores(share, random_arms, dr),
            )
            scores[(budget, "best single e-mail")] = (
                _mixture_scores(share, {best: 1.0}, ipw),
                _mixture_scores(share, {best: 1.0}, dr),
            )
        scores[(0.0, "no e-mail")] = (ipw[_CONTROL], dr[_CONTROL])
        qini = pd.DataFrame(
            [
                {
                    "outcome": outcome,
                    "fold": fold,
                    "arm": arm,
                    "model": chosen.name,
                    "qini": qini_auc(effects, y_te, T_te, treatment=arm, control=_CONTROL),
                }
                for arm in _ARMS
            ]
        )
        curves = {
            arm: qini_curve(effects, y_te, T_te, treatment=arm, control=_CONTROL) for arm in _ARMS
        }
    selection.insert(1, "fold", fold)
    return {
        "fold": fold,
        "rows": test,
        "scores": scores,
        "emails": emails,
        "labels": labels,
        "selection": selection,
        "best": best,
        "model": chosen.name,
        "qini": qini,
        "curves": curves,
    }


def _policy_rows(
    outcome: str,
    budgets: Sequence[float],
    scores: Mapping[tuple[float, str], tuple[np.ndarray, np.ndarray]],
    emails: Mapping[float, float],
) -> tuple[list[dict[str, Any]], dict[tuple[str, float], tuple[str, str]]]:
    """Table rows and verdicts from per-row (IPW, DR) scores of each policy.

    The same function serves one fold and the pooled folds (scores concatenated
    over folds), so the pooled numbers are the per-row means over all folds.
    """
    rows = []
    verdicts = {}
    for budget in budgets:
        scored = {name: scores[(budget, name)] for name in POLICIES[:3]}
        for name, (s_ipw, s_dr) in scored.items():
            row = {
                "outcome": outcome,
                "budget": budget,
                "policy": name,
                "emails": emails[budget],
                **dict(zip(("ipw", "ipw_se"), _mean_se(s_ipw), strict=True)),
                **dict(zip(("dr", "dr_se"), _mean_se(s_dr), strict=True)),
            }
            if name != "random":
                lift, se = _mean_se(s_dr - scored["random"][1])
                row.update(
                    vs_random=lift,
                    vs_random_se=se,
                    vs_random_z=lift / se if se > 0 else math.nan,
                )
                row.update(
                    zip(
                        ("vs_random_ipw", "vs_random_ipw_se"),
                        _mean_se(s_ipw - scored["random"][0]),
                        strict=True,
                    )
                )
            if name == "optimised":
                gain, gain_se = _mean_se(s_dr - scored["best single e-mail"][1])
                row.update(vs_single=gain, vs_single_se=gain_se)
                verdicts[(outcome, budget)] = (
                    verdict(lift, se),
                    verdict(gain, gain_se, baseline="the best single e-mail"),
                )
            rows.append(row)
    s_ipw, s_dr = scores[(0.0, "no e-mail")]
    rows.append(
        {
            "outcome": outcome,
            "budget": 0.0,
            "policy": "no e-mail",
            "emails": 0.0,
            **dict(zip(("ipw", "ipw_se"), _mean_se(s_ipw), strict=True)),
            **dict(zip(("dr", "dr_se"), _mean_se(s_dr), strict=True)),
        }
    )
    return rows, verdicts


def _pool(outcome: str, budgets: Sequence[float], folds: Sequence[Mapping[str, Any]]) -> dict:
    """Pooled and per-fold table rows, verdicts and e-mail mix of one outcome."""
    pooled_scores = {
        key: tuple(np.concatenate([f["scores"][key][i] for f in folds]) for i in (0, 1))
        for key in folds[0]["scores"]
    }
    pooled_emails = {b: float(sum(f["emails"][b] for f in folds)) for b in budgets}
    rows, verdicts = _policy_rows(outcome, budgets, pooled_scores, pooled_emails)
    fold_rows = [
        {"fold": f["fold"], **row}
        for f in folds
        for row in _policy_rows(outcome, budgets, f["scores"], f["emails"])[0]
    ]
    mixes = {b: np.concatenate([f["labels"][b] for f in folds]) for b in budgets}
    mix = pd.DataFrame(
        [
            {"outcome": outcome, "budget": b, "arm": arm, "emails": int(np.sum(labels == arm))}
            for b, labels in mixes.items()
            for arm in _ARMS
        ]
    )
    return {"rows": rows, "fold_rows": fold_rows, "verdicts": verdicts, "mixes": mixes, "mix": mix}


def _save_figure(
    rows: Sequence[Mapping[str, Any]],
    folds: Sequence[Mapping[str, Any]],
    mixes: Mapping[float, np.ndarray],
    outcome: str,
    path: Path,
) -> Path:
    """Qini curves per fold and arm, pooled value per policy against budget, e-mail mix."""
    import matplotlib

    matplotlib.use("Agg")  # files only: never needs a display
    import matplotlib.pyplot as plt

    from ..plot import allocation_mix, qini_curves

    table = pd.DataFrame(rows)
    fig, axes = plt.subplots(1, 3, figsize=(16.0, 4.5))
    try:
        curves = {
            (arm if len(folds) == 1 else f"{arm}, fold {f['fold']}"): curve
            for f in folds
            for arm, curve in f["curves"].items()
        }
        qini_curves(curves, ax=axes[0], x="fraction")
        models = " / ".join(f["model"] for f in folds)
        axes[0].set_title(f"Qini on the scored half ({models})")

        ax = axes[1]
        none = table[table["policy"] == "no e-mail"].iloc[0]
        for offset, policy in zip((-0.006, 0.0, 0.006), POLICIES[:3], strict=True):
            part = table[table["policy"] == policy]
            ax.errorbar(
                part["budget"] + offset,
                part["dr"],
                yerr=1.96 * part["dr_se"],
                marker="o",
                capsize=3,
                label=policy,
            )
        ax.axhline(none["dr"], color="grey", linestyle="--", label="no e-mail")
        ax.set_xlabel("share of customers e-mailed (cap)")
        unit = " (net of e-mail cost)" if outcome == "spend" else ""
        ax.set_ylabel(f"{outcome} per customer, DR{unit}")
        ax.set_title("value with 95% intervals" + (", both folds" if len(folds) > 1 else ""))
        ax.legend()

        budgets = list(mixes)
        labels = np.concatenate([mixes[b] for b in budgets])
        # numeric segments sort as budgets do ("100%" would sort before "25%")
        segments = np.concatenate([np.full(len(mixes[b]), b) for b in budgets])
        allocation_mix(labels, segments=segments, ax=axes[2], normalize=True)
        axes[2].legend(loc="upper left", fontsize="small")
        axes[2].set_xlabel("budget (share of customers e-mailed)")
        axes[2].set_title("e-mails of the optimised allocation")
        fig.suptitle(f"Hillstrom e-mail experiment: {outcome}")
        fig.tight_layout()
        fig.savefig(path, dpi=100)
    finally:
        plt.close(fig)
    return path


def run_hillstrom(
    *,
    outcomes: Sequence[str] | str = OUTCOMES,
    budgets: Sequence[float] = DEFAULT_BUDGETS,
    cost: float = DEFAULT_COST,
    seed: int = 0,
    folds: int = DEFAULT_FOLDS,
    out: str | Path | None = None,
    n: int | None = None,
    progress: TextIO | None = None,
) -> HillstromReport:
    """Target e-mails on the Hillstrom experiment and score them on customers not learned from.

    See the module docstring for the procedure and what is estimated.

    Parameters
    ----------
    outcomes : sequence of {"visit", "conversion", "spend"} or "all"
        Outcomes to analyse, each on its own (models, allocations, scores).
    budgets : sequence of float, default (0.25, 0.5, 1.0)
        Shares of each fold's scored customers e-mailed at most, each in
        (0, 1].
    cost : float, default 0.10
        Dollars per e-mail, subtracted from spend (visit and conversion are not
        money; their e-mails are limited by the budget only).
    seed : int, default 0
        Seeds the halves, the subsample, the cross-validation folds and every
        model; the same seed gives the same report.
    folds : {1, 2}, default 2
        2: cross-fit, learn on each half and score on the other, so every
        customer is scored once. 1: learn on half A, score half B only.
    out : str or Path, optional
        Directory for one PNG per outcome and ``hillstrom_results.csv``
        (created if missing); nothing is written when None.
    n : int, optional
        Use a random subsample of ``n`` customers (at least 600) instead of all
        64,000, e.g. for a quick run.
    progress : file-like, optional
        Where progress lines of slow stages go (e.g. ``sys.stderr``); silent
        when None.

    Returns
    -------
    HillstromReport

    Raises
    ------
    ValueError
        Unknown outcome, budget outside (0, 1], negative or non-finite cost,
        non-integer seed, folds other than 1 or 2, ``n`` out of range.

    Examples
    --------
    >>> from upliftopt.demos.hillstrom import run_hillstrom
    >>> report = run_hillstrom(outcomes="visit", budgets=[0.5], n=1_000, seed=0)
    >>> report.settings["n_scored"], report.table["emails"].tolist()
    (1000, [500.0, 500.0, 500.0, 0.0])
    >>> report.table["policy"].tolist()
    ['optimised', 'random', 'best single e-mail', 'no e-mail']
    >>> report.fold_table.groupby("fold")["emails"].max().to_dict()  # 50 % of each half
    {1: 250.0, 2: 250.0}
    """
    from ..datasets import load_hillstrom

    chosen_outcomes = _check_outcomes(outcomes)
    budget_list = _check_budgets(budgets)
    cost = _check_cost(cost)
    seed = _check_int(seed, "seed", 0)
    folds = _check_folds(folds)
    timer = StageTimer(progress)

    with timer.stage("load the Hillstrom data"):
        data = load_hillstrom()
    if data.control != _CONTROL or tuple(data.arms) != _ARMS:
        raise UpliftOptError(
            f"the Hillstrom data have control {data.control!r} and arms {data.arms!r}; "
            f"this job expects {_CONTROL!r} and {_ARMS!r}"
        )
    total = data.n
    if n is not None:
        n = _check_int(n, "n", _MIN_N, total)
    rng = np.random.default_rng(seed)
    rows = np.arange(total) if n is None else np.sort(rng.choice(total, size=n, replace=False))
    order = rng.permutation(rows.shape[0])
    half = rows.shape[0] // 2
    half_a, half_b = np.sort(rows[order[:half]]), np.sort(rows[order[half:]])
    splits = ((half_a, half_b), (half_b, half_a))[:folds]
    cv_folds = _CV_FOLDS if n is None else _QUICK_CV_FOLDS
    logger.info(
        "hillstrom: halves of %d and %d customers, %d fold(s)", half_a.size, half_b.size, folds
    )

    fitted: dict[str, list[dict[str, Any]]] = {}
    pooled: dict[str, dict[str, Any]] = {}
    for outcome in chosen_outcomes:
        fitted[outcome] = [
            _fit_and_score(
                outcome,
                data,
                train,
                test,
                fold=k + 1,
                budgets=budget_list,
                cost=cost,
                cv_folds=cv_folds,
                seed=seed,
                timer=timer,
            )
            for k, (train, test) in enumerate(splits)
        ]
        pooled[outcome] = _pool(outcome, budget_list, fitted[outcome])

    table = pd.DataFrame(
        [row for result in pooled.values() for row in result["rows"]],
        columns=list(TABLE_COLUMNS),
    )
    fold_table = pd.DataFrame(
        [row for result in pooled.values() for row in result["fold_rows"]],
        columns=["fold", *TABLE_COLUMNS],
    )
    # Each scored customer once: its fold and the label each optimised allocation gave it.
    assignments = pd.concat(
        [
            pd.DataFrame(
                {
                    "fold": k + 1,
                    **{
                        f"{outcome}@{budget:g}": np.where(pd.isna(labels), _CONTROL, labels)
                        for outcome in chosen_outcomes
                        for budget, labels in fitted[outcome][k]["labels"].items()
                    },
                },
                index=pd.Index(test, name="row"),
            )
            for k, (_, test) in enumerate(splits)
        ]
    ).sort_index()

    figures: list[Path] = []
    csv_path = None
    if out is not None:
        directory = Path(out)
        with timer.stage("write plots and CSV"):
            directory.mkdir(parents=True, exist_ok=True)
            for outcome in chosen_outcomes:
                figures.append(
                    _save_figure(
                        pooled[outcome]["rows"],
                        fitted[outcome],
                        pooled[outcome]["mixes"],
                        outcome,
                        directory / f"hillstrom_{outcome}.png",
                    )
                )
            csv_path = directory / "hillstrom_results.csv"
            pd.concat(
                [table.assign(fold="pooled")[fold_table.columns], fold_table], ignore_index=True
            ).to_csv(csv_path, index=False)

    return HillstromReport(
        table=table,
        fold_table=fold_table,
        mix=pd.concat([r["mix"] for r in pooled.values()], ignore_index=True),
        qini=pd.concat([f["qini"] for fs in fitted.values() for f in fs], ignore_index=True),
        selection=pd.concat(
            [f["selection"] for fs in fitted.values() for f in fs], ignore_index=True
        ),
        verdicts={k: v for r in pooled.values() for k, v in r["verdicts"].items()},
        best_single={outcome: tuple(f["best"] for f in fs) for outcome, fs in fitted.items()},
        figures=tuple(figures),
        csv=csv_path,
        timings=tuple(timer.timings),
        settings={
            "seed": seed,
            "cost": cost,
            "budgets": budget_list,
            "outcomes": chosen_outcomes,
            "folds": folds,
            "n": int(rows.shape[0]),
            "halves": (int(half_a.size), int(half_b.size)),
            "n_scored": int(sum(test.size for _, test in splits)),
        },
        splits=splits,
        assignments=assignments,
    )


# --------------------------------------------------------------------------
# Text output and command line
# --------------------------------------------------------------------------


def _pm(value: float, se: float, spec: str) -> str:
    if value != value:  # NaN
        return "-"
    return f"{format(value, spec)} ± {format(se, spec)}"


def _header(settings: Mapping[str, Any]) -> list[str]:
    s = settings
    size_a, size_b = s["halves"]
    if s["folds"] == 2:
        split = (
            f"  {s['n']:,} customers, seed {s['seed']}, cross-fitted: halves A ({size_a:,}) "
            f"and B ({size_b:,}); fold 1 learns on A and scores B, fold 2 learns on B and "
            "scores A, so every customer is scored once, out of fold"
        )
    else:
        split = (
            f"  {s['n']:,} customers, seed {s['seed']}, one split: {size_a:,} to fit "
            f"(half A), {size_b:,} held out and scored (half B)"
        )
    return [
        "Hillstrom e-mail experiment: target e-mails, score on customers not learned from",
        split,
        "  each label had probability 1/3; budgets cap the share of each scored half "
        f"e-mailed; spend is net of ${s['cost']:.2f} per e-mail",
        f"  values are per scored customer ({s['n_scored']:,}), ± one standard error; "
        "'vs random' is the paired DR difference",
        "",
    ]


def format_report(report: HillstromReport) -> str:
    """Render a :class:`HillstromReport` as plain text (what ``main`` prints).

    Examples
    --------
    >>> from upliftopt.demos.hillstrom import format_report, run_hillstrom
    >>> text = format_report(run_hillstrom(outcomes="visit", budgets=[0.5], n=1_000))
    >>> text.splitlines()[0]
    'Hillstrom e-mail experiment: target e-mails, score on customers not learned from'
    >>> "== visit ==" in text, text.count("at 50%: the optimised allocation")
    (True, 1)
    """
    s = report.settings
    lines = _header(s)
    for outcome in s["outcomes"]:
        spec = ".3f" if outcome == "spend" else ".4f"
        part = report.table[report.table["outcome"] == outcome]
        lines.append(f"== {outcome} ==")
        for fold, best in enumerate(report.best_single[outcome], start=1):
            sel = report.selection[
                (report.selection["outcome"] == outcome) & (report.selection["fold"] == fold)
            ]
            chosen = sel.loc[sel["chosen"], "model"].iloc[0]
            fit_half = _HALVES[fold - 1]
            lines.append(
                f"  fold {fold}, effect model (CV lift over random on half {fit_half}): "
                + ", ".join(
                    f"{r.model} {_pm(r.cv_lift, r.cv_se, spec)}{' *' if r.chosen else ''}"
                    for r in sel.itertuples()
                )
            )
            lines.append(
                f"  fold {fold}, chosen: {chosen}; best single e-mail on half {fit_half}: {best}"
            )
        rows = [
            {
                "budget": "-" if r.policy == "no e-mail" else f"{r.budget:.0%}",
                "policy": r.policy,
                "emails": f"{r.emails:,.0f}",
                "ipw": _pm(r.ipw, r.ipw_se, spec),
                "dr": _pm(r.dr, r.dr_se, spec),
                "vs": _pm(r.vs_random, r.vs_random_se, spec),
                "z": "-" if r.vs_random_z != r.vs_random_z else f"{r.vs_random_z:.1f}",
            }
            for r in part.itertuples()
        ]
        table = format_table(
            rows,
            [
                ("budget", "budget", ""),
                ("policy", "policy", ""),
                ("emails", "e-mails", ""),
                ("ipw", "value (IPW)", ""),
                ("dr", "value (DR)", ""),
                ("vs", "vs random (DR)", ""),
                ("z", "z", ""),
            ],
        )
        lines.extend("  " + line for line in table.splitlines())
        if s["folds"] > 1:
            per_fold = report.fold_table[
                (report.fold_table["outcome"] == outcome)
                & (report.fold_table["policy"] == "optimised")
            ]
            lines.append(
                "  optimised vs random per fold (DR, fold 1 | fold 2): "
                + "; ".join(
                    f"{budget:.0%} "
                    + " | ".join(
                        f"{_pm(r.vs_random, r.vs_random_se, spec)} (z {r.vs_random_z:.1f})"
                        for r in group.itertuples()
                    )
                    for budget, group in per_fold.groupby("budget", sort=True)
                )
            )
        mix = report.mix[report.mix["outcome"] == outcome]
        lines.append(
            "  e-mails of the optimised allocation: "
            + "; ".join(
                f"{budget:.0%} " + ", ".join(f"{r.arm} {r.emails:,}" for r in group.itertuples())
                for budget, group in mix.groupby("budget", sort=True)
            )
        )
        qini = report.qini[report.qini["outcome"] == outcome]
        lines.append(
            "  Qini (normalised area on the scored half"
            + (", fold 1 | fold 2): " if s["folds"] > 1 else "): ")
            + ", ".join(
                f"{arm} " + " | ".join(f"{q:+.5f}" for q in group["qini"])
                for arm, group in qini.groupby("arm", sort=False)
            )
        )
        for budget in s["budgets"]:
            against_random, against_single = report.verdicts[(outcome, budget)]
            head = f"  at {budget:.0%}: the optimised allocation"
            lines.append(f"{head} {against_random}")
            lines.append(f"{' ' * (len(head) - 4)}and {against_single}")
        lines.append("")
    if report.figures or report.csv is not None:
        lines.append("Wrote " + ", ".join(str(p) for p in (*report.figures, report.csv) if p))
    total = sum(seconds for _, seconds in report.timings)
    lines.append(f"Done in {total:.1f} s.")
    return "\n".join(lines)


def _parse_budgets(text: str) -> tuple[float, ...]:
    try:
        return _check_budgets([float(part) for part in text.split(",") if part.strip()])
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def build_parser(prog: str = "upliftopt hillstrom") -> argparse.ArgumentParser:
    """Command-line options of the job.

    Examples
    --------
    >>> from upliftopt.demos.hillstrom import build_parser
    >>> args = build_parser().parse_args(["--budgets", "0.5,0.25", "--outcome", "spend"])
    >>> args.budgets, args.outcome, args.cost, args.seed, args.folds, args.quick
    ((0.25, 0.5), 'spend', 0.1, 0, 2, False)
    """
    parser = argparse.ArgumentParser(
        prog=prog,
        description=(
            "Estimate each e-mail's effect on one half of the Hillstrom customers, "
            "allocate e-mails to the other half under a cap, and score the allocation "
            "against random and single-e-mail targeting; by default both ways round "
            "(cross-fitting), so every customer is scored once."
        ),
    )
    parser.add_argument(
        "--outcome", choices=[*OUTCOMES, "all"], default="all", help="outcome (default: all)"
    )
    parser.add_argument(
        "--budgets",
        type=_parse_budgets,
        default=DEFAULT_BUDGETS,
        help="comma-separated shares of customers e-mailed at most (default: 0.25,0.5,1.0)",
    )
    parser.add_argument(
        "--cost",
        type=float,
        default=DEFAULT_COST,
        help="dollars per e-mail, subtracted from spend (default: 0.10)",
    )
    parser.add_argument("--seed", type=int, default=0, help="seed of the split (default: 0)")
    parser.add_argument(
        "--folds",
        type=int,
        choices=(1, 2),
        default=DEFAULT_FOLDS,
        help="2: learn on each half, score the other (cross-fitting, default); "
        "1: learn on one half, score the other only",
    )
    parser.add_argument("--out", type=Path, default=None, help="directory for PNG plots and CSV")
    parser.add_argument(
        "--quick",
        action="store_true",
        help=f"use a random subsample of {QUICK_N:,} customers (for tests and a first look)",
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the job from the command line; print the report; return the exit code.

    Parameters
    ----------
    argv : sequence of str, optional
        Arguments after the command name (``sys.argv[1:]`` when None); see
        :func:`build_parser`. Bad values exit with status 2 and a message.

    Returns
    -------
    int
        0 on success.

    Examples
    --------
    >>> from upliftopt.demos.hillstrom import main
    >>> main(["--quick", "--outcome", "visit", "--budgets", "0.5"])  # doctest: +ELLIPSIS
    Hillstrom e-mail experiment: target e-mails, score on customers not learned from
    ...
    0
    """
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        report = run_hillstrom(
            outcomes=args.outcome,
            budgets=args.budgets,
            cost=args.cost,
            seed=args.seed,
            folds=args.folds,
            out=args.out,
            n=QUICK_N if args.quick else None,
            progress=sys.stderr,
        )
    except ValueError as exc:
        parser.error(str(exc))
    sys.stdout.write(format_report(report) + "\n")
    return 0
