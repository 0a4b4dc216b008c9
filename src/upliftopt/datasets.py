"""Data sets: a synthetic benchmark with known effects, and a real experiment.

:func:`make_uplift_data`
    Simulated customers with a known treatment effect of every arm for every
    customer (``tau``), known assignment probabilities and, optionally, known
    per-customer costs. Everything downstream (CATE accuracy, the value of an
    allocation, regret against the oracle) can be scored exactly on it.
:func:`load_hillstrom`
    Kevin Hillstrom's MineThatData e-mail experiment (2008): 64,000 customers
    randomised to no e-mail, a men's or a women's merchandise e-mail. Shipped
    with the package, unchanged, and checked against its SHA-256 on load.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import logging
import math
import numbers
from collections.abc import Callable, Hashable, Mapping, Sequence
from dataclasses import dataclass
from importlib import resources
from typing import Any

import numpy as np
import pandas as pd
from scipy.special import expit, softmax

from .exceptions import UpliftOptError

__all__ = [
    "DESIGNS",
    "HILLSTROM_OUTCOMES",
    "HILLSTROM_SHA256",
    "HillstromData",
    "UpliftData",
    "load_hillstrom",
    "make_uplift_data",
]

logger = logging.getLogger(__name__)

#: Accepted values of ``design`` in :func:`make_uplift_data`.
DESIGNS = ("multiarm", "separate")

#: Number of features of the synthetic benchmark (``x0`` ... ``x9``).
N_FEATURES = 10

_DEFAULT_ARMS = ("10% off", "20% off", "50% off")

#: SHA-256 of the decompressed Hillstrom CSV shipped in ``upliftopt/data``.
HILLSTROM_SHA256 = "0e5893329d8b93cefecc571777672028290ab69865718020c78c7284f291aece"

#: Outcomes recorded in the Hillstrom experiment.
HILLSTROM_OUTCOMES = ("visit", "conversion", "spend")

_HILLSTROM_RESOURCE = "data/hillstrom.csv.gz"
_HILLSTROM_CONTROL = "No E-Mail"
_HILLSTROM_ARMS = ("Mens E-Mail", "Womens E-Mail")
_HILLSTROM_NUMERIC = ("recency", "history", "mens", "womens", "newbie")
# Levels in the order of the one-hot encoding; the first level of each is the
# dropped reference (all dummies 0). "Surburban" is the file's own spelling.
_HILLSTROM_LEVELS = {
    "zip_code": ("Rural", "Surburban", "Urban"),
    "channel": ("Multichannel", "Phone", "Web"),
}


# --------------------------------------------------------------------------
# The synthetic benchmark
# --------------------------------------------------------------------------


def _baseline(x: np.ndarray) -> np.ndarray:
    """b(x): the expected outcome without treatment."""
    return (
        np.sin(np.pi * x[:, 0] * x[:, 1])
        + 2.0 * (x[:, 2] - 0.5) ** 2
        + x[:, 3]
        + 0.5 * x[:, 4]
        + x[:, 5] * x[:, 6]
        + x[:, 7] ** 3
        + np.sin(np.pi * x[:, 8] * x[:, 9])
    )


def _tau_10(x: np.ndarray) -> np.ndarray:
    return 0.75 * (x[:, 0] * x[:, 1] + x[:, 2])


def _tau_20(x: np.ndarray) -> np.ndarray:
    return 0.50 * (x[:, 3] * x[:, 4] + x[:, 5])


def _tau_50(x: np.ndarray) -> np.ndarray:
    return 0.90 * (x[:, 6] * x[:, 7] + x[:, 9])


_DEFAULT_EFFECTS = (_tau_10, _tau_20, _tau_50)


@dataclass(frozen=True, eq=False)
class UpliftData:
    """Synthetic uplift data with the truth attached; see :func:`make_uplift_data`.

    Every pandas object shares one ``RangeIndex`` (one row per customer).

    Attributes
    ----------
    X : DataFrame of shape (N, 10)
        Features ``x0`` ... ``x9``, i.i.d. uniform on [0, 1].
    T : Series of shape (N,), name ``"treatment"``
        Label received by each customer: ``control`` or one of ``arms``.
    y : Series of shape (N,), name ``"y"``
        Observed outcome ``baseline + tau[T] + noise * N(0, 1)``.
    tau : DataFrame of shape (N, K)
        True effect of EVERY arm (column) for EVERY customer (row), whatever
        arm the customer actually got. The effect of control is 0.
    propensity : DataFrame of shape (N, K + 1)
        Probability that the design gives each label (columns ``control``, then
        ``arms``) to each customer; rows sum to 1.
    baseline : Series of shape (N,), name ``"baseline"``
        ``b(x)``, the expected outcome under control.
    control : str or int
        Label of the untreated group.
    arms : tuple
        Treatment labels, in column order of ``tau``.
    design : str
        ``"multiarm"`` or ``"separate"``.
    experiment : Series of shape (N,) or None
        For ``design="separate"``, the arm whose experiment each row belongs to;
        None for ``"multiarm"``.
    true_costs : DataFrame of shape (N, K) or None
        True cost of giving each arm to each customer, when ``cost_rates`` was
        given; same layout as ``tau``.
    cost_outcome : Series of shape (N,) or None
        Observed cost (``"cost"``): the noisy cost of the arm received, 0 for
        control rows. Its treatment effect for arm ``j`` is ``true_costs[j]``.
    """

    X: pd.DataFrame
    T: pd.Series
    y: pd.Series
    tau: pd.DataFrame
    propensity: pd.DataFrame
    baseline: pd.Series
    control: Hashable
    arms: tuple
    design: str
    experiment: pd.Series | None = None
    true_costs: pd.DataFrame | None = None
    cost_outcome: pd.Series | None = None

    @property
    def n(self) -> int:
        """Number of rows (customers)."""
        return len(self.X)

    @property
    def control_share(self) -> float:
        """Fraction of rows in the control group."""
        return float(self.T.eq(self.control).mean())

    def assigned_tau(self) -> pd.Series:
        """Return the true effect of the label each customer received (0 for control)."""
        values = np.zeros(self.n)
        for j, arm in enumerate(self.arms):
            rows = self.T.eq(arm).to_numpy()
            values[rows] = self.tau.iloc[:, j].to_numpy()[rows]
        return pd.Series(values, index=self.X.index, name="assigned_tau")

    def summary(self) -> str:
        """One line: size, design, arms and control share."""
        costs = ", with costs" if self.true_costs is not None else ""
        return (
            f"n={self.n}, design={self.design!r}, arms={self.arms!r}, "
            f"control={self.control!r} (share {self.control_share:.3f}){costs}"
        )

    def __repr__(self) -> str:
        return f"UpliftData({self.summary()})"


def _check_label(label: Any, name: str) -> Hashable:
    # bool is an int subclass, but True as an arm label is almost always a bug.
    if isinstance(label, bool) or not isinstance(label, str | numbers.Integral):
        raise ValueError(f"{name} must be a string or an integer; got {label!r}")
    return int(label) if isinstance(label, numbers.Integral) else label


def _check_n(n: Any) -> int:
    if isinstance(n, bool) or not isinstance(n, numbers.Integral):
        raise ValueError(f"n must be a positive integer; got {n!r}")
    if n < 1:
        raise ValueError(f"n must be a positive integer; got {n!r}")
    return int(n)


def _check_arms(
    arms: Any, effects: Any, control: Hashable
) -> tuple[tuple, tuple[Callable[[np.ndarray], Any], ...]]:
    """Resolve arm labels and their effect functions (in arm order)."""
    if arms is not None:
        if isinstance(arms, str | bytes) or not isinstance(arms, Sequence):
            raise ValueError(f"arms must be a sequence of labels; got {arms!r}")
        labels = tuple(_check_label(a, "each label in arms") for a in arms)
    elif isinstance(effects, Mapping):
        labels = tuple(_check_label(a, "each key of effects") for a in effects)
    elif effects is None:
        labels = _DEFAULT_ARMS
    else:
        raise ValueError(
            "effects given as a sequence needs arms to name them; pass arms, or give "
            "effects as a mapping {arm label: function}"
        )

    source = "effects" if arms is None and isinstance(effects, Mapping) else "arms"
    if not labels:
        raise ValueError(f"{source} must name at least one arm")
    if len(set(labels)) != len(labels):
        dupes = sorted({repr(a) for a in labels if labels.count(a) > 1})
        raise ValueError(f"{source} has duplicate labels: {', '.join(dupes)}")
    if control in labels:
        raise ValueError(f"{source} contains the control label {control!r}; arm labels must differ")

    if effects is None:
        if len(labels) != len(_DEFAULT_EFFECTS):
            raise ValueError(
                f"arms has {len(labels)} labels but the default effects define "
                f"{len(_DEFAULT_EFFECTS)} arms; pass effects for your arms"
            )
        return labels, _DEFAULT_EFFECTS
    if isinstance(effects, Mapping):
        keys = [_check_label(k, "each key of effects") for k in effects]
        unknown = [k for k in keys if k not in labels]
        missing = [a for a in labels if a not in keys]
        if unknown or missing:
            raise ValueError(
                f"effects keys {keys!r} do not match arms {list(labels)!r}"
                + (f"; unknown: {', '.join(map(repr, unknown))}" if unknown else "")
                + (f"; missing: {', '.join(map(repr, missing))}" if missing else "")
            )
        lookup = dict(zip(keys, effects.values(), strict=True))
        functions = tuple(lookup[a] for a in labels)
    elif isinstance(effects, Sequence) and not isinstance(effects, str | bytes):
        if len(effects) != len(labels):
            raise ValueError(
                f"effects has {len(effects)} functions but there are {len(labels)} arms"
            )
        functions = tuple(effects)
    else:
        raise ValueError(
            f"effects must map each arm label to a function (or be a sequence of "
            f"functions in arm order); got {type(effects).__name__}"
        )
    for label, function in zip(labels, functions, strict=True):
        if not callable(function):
            raise ValueError(f"effects[{label!r}] must be callable; got {function!r}")
    return labels, functions


def _per_arm(spec: Any, arms: tuple, name: str, *, positive: bool) -> np.ndarray:
    """One finite number per arm, from a mapping {arm: number} or a sequence."""
    if isinstance(spec, Mapping | pd.Series):
        keys = list(spec.index) if isinstance(spec, pd.Series) else list(spec)
        unknown = [k for k in keys if k not in arms]
        if unknown:
            raise ValueError(
                f"{name} names unknown arm(s) {', '.join(map(repr, unknown))}; "
                f"the arms are {', '.join(map(repr, arms))}"
            )
        missing = [a for a in arms if a not in keys]
        if missing:
            raise ValueError(f"{name} has no entry for arm(s) {', '.join(map(repr, missing))}")
        raw = [spec[a] for a in arms]
    else:
        if isinstance(spec, str | bytes):
            raise ValueError(f"{name} must be numbers, one per arm; got {spec!r}")
        raw = spec
    try:
        values = np.array(raw, dtype=np.float64)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be numbers, one per arm; got {spec!r}") from None
    if values.shape != (len(arms),):
        raise ValueError(
            f"{name} has shape {values.shape} but there are {len(arms)} arms; "
            "give one number per arm"
        )
    for arm, value in zip(arms, values.tolist(), strict=True):
        if not math.isfinite(value):
            raise ValueError(f"{name}[{arm!r}] is {value!r}; it must be finite")
        if positive and value <= 0:
            raise ValueError(f"{name}[{arm!r}] is {value!r}; it must be > 0")
        if not positive and value < 0:
            raise ValueError(f"{name}[{arm!r}] is {value!r}; it must be >= 0")
    return values


def _check_noise(noise: Any) -> float:
    try:
        value = float(noise)
    except (TypeError, ValueError):
        raise ValueError(f"noise must be a number >= 0; got {noise!r}") from None
    if not (math.isfinite(value) and value >= 0):
        raise ValueError(f"noise must be a finite number >= 0; got {noise!r}")
    return value


def _check_random_state(random_state: Any) -> np.random.Generator:
    if isinstance(random_state, bool) or not (
        random_state is None
        or isinstance(random_state, numbers.Integral | np.random.Generator | np.random.SeedSequence)
    ):
        raise ValueError(
            f"random_state must be None, a non-negative integer or a numpy Generator; "
            f"got {random_state!r}"
        )
    try:
        return np.random.default_rng(random_state)
    except ValueError as exc:
        raise ValueError(f"random_state {random_state!r} is not a valid seed: {exc}") from None


def _effect_matrix(
    x: np.ndarray, arms: tuple, functions: Sequence[Callable[[np.ndarray], Any]]
) -> np.ndarray:
    """Evaluate each arm's effect on ``x``; (N, K), checked shape and finiteness."""
    n = x.shape[0]
    tau = np.empty((n, len(arms)))
    for j, (arm, function) in enumerate(zip(arms, functions, strict=True)):
        # A copy, so that a user function that writes into its input cannot
        # change the features we return.
        try:
            column = np.asarray(function(x.copy()), dtype=np.float64)
        except (TypeError, ValueError) as exc:
            raise ValueError(f"effects[{arm!r}] did not return numbers: {exc}") from None
        if column.shape not in {(n,), (n, 1)}:
            raise ValueError(
                f"effects[{arm!r}] returned shape {column.shape}; expected ({n},), "
                f"one effect per row of the (n, {N_FEATURES}) feature array"
            )
        column = column.reshape(n)
        if not np.isfinite(column).all():
            row = int(np.flatnonzero(~np.isfinite(column))[0])
            raise ValueError(
                f"effects[{arm!r}] returned {float(column[row])!r} at row {row}; "
                "effects must be finite"
            )
        tau[:, j] = column
    return tau


def _sample_labels(probabilities: np.ndarray, u: np.ndarray) -> np.ndarray:
    """Inverse-CDF draw of one column index per row from uniform ``u``."""
    cumulative = np.cumsum(probabilities, axis=1)
    # Only interior cut points are compared, so a last cumulative sum of
    # 0.9999999999999999 cannot push a row past the last column.
    return (u[:, None] >= cumulative[:, :-1]).sum(axis=1)


def make_uplift_data(
    n: int = 10_000,
    *,
    design: str = "multiarm",
    arms: Sequence[Hashable] | None = None,
    control: Hashable = "control",
    effects: Mapping[Hashable, Callable] | Sequence[Callable] | None = None,
    weights: Mapping[Hashable, float] | Sequence[float] | None = None,
    noise: float = 1.0,
    cost_rates: Mapping[Hashable, float] | Sequence[float] | None = None,
    random_state: int | np.random.Generator | None = None,
) -> UpliftData:
    """Simulate an uplift experiment whose treatment effects are known.

    Features ``x0`` ... ``x9`` are i.i.d. uniform on [0, 1]. The outcome is

    .. code-block:: text

        y = b(x) + tau_T(x) + noise * N(0, 1)          (tau_control = 0)
        b(x) = sin(pi x0 x1) + 2 (x2 - 0.5)^2 + x3 + 0.5 x4 + x5 x6 + x7^3
               + sin(pi x8 x9)

    and by default there are three arms, a 10 %, 20 % and 50 % discount:

    .. code-block:: text

        tau_"10% off"(x) = 0.75 (x0 x1 + x2)
        tau_"20% off"(x) = 0.50 (x3 x4 + x5)
        tau_"50% off"(x) = 0.90 (x6 x7 + x9)

    Parameters
    ----------
    n : int, default 10,000
        Customers in the experiment (``"multiarm"``), or in EACH experiment
        (``"separate"``, so ``n * K`` rows in total).
    design : {"multiarm", "separate"}, default "multiarm"
        ``"multiarm"``: one experiment, control plus K arms, assigned by a
        confounded softmax rule,

        .. code-block:: text

            P(T = label | x) = exp(l_label) / sum over labels of exp(l)
            l_control = 0,   l_j = b(x) - 2 + log(w_j / mean(w))

        so customers with a high baseline are treated more often (about 19 %
        of customers are in control with equal weights). ``"separate"``: one
        binary experiment per arm, each with its own control group and
        ``P(treated | x) = expit(b(x))`` (about 9 % in control).
    arms : sequence of str or int, optional
        Arm labels, unique and different from ``control``. Defaults to the
        keys of ``effects`` if it is a mapping, else ``("10% off", "20% off",
        "50% off")``. Without ``effects``, exactly three labels, which rename
        the default effects in order.
    control : str or int, default "control"
        Label of the untreated group.
    effects : mapping {arm: callable} or sequence of callables, optional
        True effect of each arm: a function taking the (N, 10) feature array
        and returning N effects; a sequence is in the order of ``arms``, which
        it then requires. Defaults to the formulas above.
    weights : mapping {arm: float} or sequence of float, optional
        Positive relative weights ``w`` of the arms in the ``"multiarm"``
        assignment rule; default 1 each. Ignored by ``"separate"``.
    noise : float, default 1.0
        Standard deviation of the outcome noise (``0`` for a noiseless outcome).
    cost_rates : mapping {arm: float} or sequence of float, optional
        Non-negative discount rate of each arm, e.g. ``{"10% off": 0.10, ...}``.
        Each customer then has a basket size ``s_j(x) = 1 + x0 + x3 + 0.5
        tau_j(x)`` under arm ``j`` and the true cost of giving it is
        ``c_j(x) = rate_j * s_j(x)`` (``true_costs``). The observed cost is
        ``cost_outcome = rate_T * s_T(x) * (1 + 0.1 N(0, 1))`` for treated rows
        and 0 for control rows, so the treatment effect of arm ``j`` on
        ``cost_outcome`` is exactly ``c_j(x)``: a CATE model fitted to it is an
        effect model of cost. Drawn after everything else, so adding
        ``cost_rates`` leaves ``X``, ``T`` and ``y`` unchanged.
    random_state : int, numpy Generator or None
        Seed for :func:`numpy.random.default_rng`. The same seed gives
        bitwise-identical data; a Generator is used (and advanced) as is.

    Returns
    -------
    UpliftData
        Features, treatment, outcome and the truth (``tau`` for every arm and
        customer, ``propensity``, ``baseline``, and costs if requested).

    Raises
    ------
    ValueError
        On a bad ``n``, an unknown ``design``, duplicate labels or a label equal
        to ``control``, ``arms`` / ``effects`` / ``weights`` / ``cost_rates``
        that do not match, an effect function returning the wrong shape or a
        non-finite value, negative ``noise``, or a non-positive basket size.

    Notes
    -----
    Random draws, in this order from one generator: features (N, 10), one
    uniform per row for the assignment, one normal per row for the outcome
    noise, then (only with ``cost_rates``) one normal per row for the cost
    noise. For ``"separate"``, the rows of experiment ``j`` are the ``j``-th
    block of ``n`` rows; ``propensity`` holds that experiment's control and
    own-arm probabilities and zeros for the other arms.

    Examples
    --------
    >>> from upliftopt import make_uplift_data
    >>> data = make_uplift_data(1_000, random_state=0)
    >>> data.X.shape, data.tau.shape, data.arms
    ((1000, 10), (1000, 3), ('10% off', '20% off', '50% off'))
    >>> bool((data.propensity.sum(axis=1).round(12) == 1).all())
    True
    >>> costly = make_uplift_data(500, design="separate", cost_rates=[0.1, 0.2, 0.5])
    >>> len(costly.T), sorted(costly.experiment.unique())
    (1500, ['10% off', '20% off', '50% off'])
    """
    n = _check_n(n)
    if design not in DESIGNS:
        raise ValueError(f"design must be one of {', '.join(map(repr, DESIGNS))}; got {design!r}")
    control = _check_label(control, "control")
    arms, functions = _check_arms(arms, effects, control)
    k = len(arms)
    w = np.ones(k) if weights is None else _per_arm(weights, arms, "weights", positive=True)
    rates = None if cost_rates is None else _per_arm(cost_rates, arms, "cost_rates", positive=False)
    sigma = _check_noise(noise)
    rng = _check_random_state(random_state)

    rows = n * k if design == "separate" else n
    x = rng.random((rows, N_FEATURES))
    u = rng.random(rows)
    eps = rng.standard_normal(rows)

    base = _baseline(x)
    tau = _effect_matrix(x, arms, functions)

    # propensity over the columns (control, arm 1, ..., arm K)
    if design == "multiarm":
        logits = np.empty((rows, k + 1))
        logits[:, 0] = 0.0
        logits[:, 1:] = base[:, None] - 2.0 + np.log(w / w.mean())[None, :]
        propensity = softmax(logits, axis=1)
        code = _sample_labels(propensity, u)
        experiment = None
    else:
        own = np.repeat(np.arange(k), n)
        p_treat = expit(base)
        propensity = np.zeros((rows, k + 1))
        propensity[:, 0] = 1.0 - p_treat
        propensity[np.arange(rows), own + 1] = p_treat
        code = np.where(u < p_treat, own + 1, 0)
        experiment = pd.Series(pd.Index(arms).take(own), name="experiment")

    labels = pd.Index([control, *arms])
    received = np.zeros(rows)
    treated = code > 0
    received[treated] = tau[treated, code[treated] - 1]
    y = base + received + sigma * eps

    features = pd.DataFrame(x, columns=[f"x{i}" for i in range(N_FEATURES)])
    arm_columns = pd.Index(arms, name="arm")
    result: dict[str, Any] = {
        "X": features,
        "T": pd.Series(labels.take(code), name="treatment"),
        "y": pd.Series(y, name="y"),
        "tau": pd.DataFrame(tau, columns=arm_columns),
        "propensity": pd.DataFrame(propensity, columns=labels.rename("label")),
        "baseline": pd.Series(base, name="baseline"),
        "control": control,
        "arms": arms,
        "design": design,
        "experiment": experiment,
    }

    if rates is not None:
        basket = 1.0 + x[:, [0]] + x[:, [3]] + 0.5 * tau
        if not (basket > 0).all():
            i, j = (int(v) for v in np.argwhere(~(basket > 0))[0])
            raise ValueError(
                f"cost_rates needs positive basket sizes s_j = 1 + x0 + x3 + 0.5 tau_j, but "
                f"arm {arms[j]!r} gives {float(basket[i, j])!r} at row {i} "
                f"(tau = {float(tau[i, j])!r}); "
                "use effects with tau_j > -2"
            )
        costs = rates[None, :] * basket
        cost_eps = rng.standard_normal(rows)
        observed = np.zeros(rows)
        observed[treated] = costs[treated, code[treated] - 1] * (1.0 + 0.1 * cost_eps[treated])
        result["true_costs"] = pd.DataFrame(costs, columns=arm_columns)
        result["cost_outcome"] = pd.Series(observed, name="cost")

    data = UpliftData(**result)
    logger.debug("make_uplift_data: %s", data.summary())
    return data


# --------------------------------------------------------------------------
# Hillstrom
# --------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class HillstromData:
    """The Hillstrom e-mail experiment, ready to model; see :func:`load_hillstrom`.

    Every pandas object shares the file's ``RangeIndex`` (64,000 rows).

    Attributes
    ----------
    frame : DataFrame of shape (64000, 12)
        The file as read, unchanged: ``recency``, ``history_segment``,
        ``history``, ``mens``, ``womens``, ``zip_code``, ``newbie``, ``channel``,
        ``segment``, ``visit``, ``conversion``, ``spend``.
    X : DataFrame of shape (64000, 9), float64
        Features: ``recency``, ``history``, ``mens``, ``womens``, ``newbie`` as
        numbers, then ``zip_code_Surburban``, ``zip_code_Urban``,
        ``channel_Phone``, ``channel_Web`` (0/1). The reference levels
        ``zip_code == "Rural"`` and ``channel == "Multichannel"`` are the
        dropped first levels (all their dummies 0), so no column is redundant
        with an intercept. ``history_segment`` is dropped: it is a binned copy
        of ``history``.
    T : Series of shape (64000,), name ``"treatment"``
        The ``segment`` column: ``"No E-Mail"``, ``"Mens E-Mail"`` or
        ``"Womens E-Mail"``.
    y : Series of shape (64000,), float64
        The chosen outcome, named after it.
    outcomes : DataFrame of shape (64000, 3), float64
        ``visit`` (0/1), ``conversion`` (0/1) and ``spend`` (dollars).
    outcome : str
        Name of the outcome in ``y``.
    control : str
        ``"No E-Mail"``.
    arms : tuple of str
        ``("Mens E-Mail", "Womens E-Mail")``.
    propensity : DataFrame of shape (64000, 3)
        The known design: probability 1/3 for each label (columns ``control``,
        then ``arms``).
    """

    frame: pd.DataFrame
    X: pd.DataFrame
    T: pd.Series
    y: pd.Series
    outcomes: pd.DataFrame
    outcome: str
    control: str
    arms: tuple
    propensity: pd.DataFrame

    @property
    def n(self) -> int:
        """Number of customers."""
        return len(self.frame)

    def summary(self) -> str:
        """One line: size, outcome, arms and group sizes."""
        counts = self.T.value_counts()
        groups = ", ".join(f"{label!r}: {counts.get(label, 0)}" for label in self.propensity)
        return f"n={self.n}, outcome={self.outcome!r}, groups {{{groups}}}"

    def __repr__(self) -> str:
        return f"HillstromData({self.summary()})"


def _hillstrom_bytes() -> bytes:
    """Read and decompress the Hillstrom CSV shipped with the package."""
    packed = resources.files("upliftopt").joinpath(_HILLSTROM_RESOURCE).read_bytes()
    return gzip.decompress(packed)


def _hillstrom_sha256() -> str:
    """SHA-256 (hex) of the decompressed Hillstrom CSV as shipped."""
    return hashlib.sha256(_hillstrom_bytes()).hexdigest()


def _encode_hillstrom(frame: pd.DataFrame) -> pd.DataFrame:
    """Numeric features of the Hillstrom frame (see :class:`HillstromData`)."""
    columns: dict[str, np.ndarray] = {
        name: frame[name].to_numpy(dtype=np.float64) for name in _HILLSTROM_NUMERIC
    }
    for name, levels in _HILLSTROM_LEVELS.items():
        values = frame[name].to_numpy(dtype=object)
        unknown = sorted(set(values) - set(levels))
        if unknown:
            raise UpliftOptError(f"Hillstrom column {name!r} has unexpected levels {unknown!r}")
        for level in levels[1:]:
            columns[f"{name}_{level}"] = (values == level).astype(np.float64)
    return pd.DataFrame(columns, index=frame.index)


def load_hillstrom(outcome: str = "spend", *, verify: bool = True) -> HillstromData:
    """Load Kevin Hillstrom's MineThatData e-mail experiment (2008).

    64,000 customers who bought within the last twelve months were randomised
    (probability 1/3 each) to receive no e-mail (21,306), an e-mail featuring
    men's merchandise (21,307) or one featuring women's merchandise (21,387).
    Visits, conversions and spend were recorded over the following two weeks.

    Parameters
    ----------
    outcome : {"visit", "conversion", "spend"}, default "spend"
        Which outcome becomes ``y``. All three are in ``outcomes``.
    verify : bool, default True
        Check the SHA-256 of the shipped file before parsing it.

    Returns
    -------
    HillstromData
        The raw ``frame`` plus encoded features ``X``, treatment ``T``,
        outcome ``y`` and the known ``propensity`` (1/3 per label). The
        encoding is described in :class:`HillstromData`.

    Raises
    ------
    ValueError
        If ``outcome`` is not one of the three.
    UpliftOptError
        If the shipped file does not match its recorded checksum.

    Notes
    -----
    Source: Kevin Hillstrom, "MineThatData E-Mail Analytics And Data Mining
    Challenge" (2008), published openly by its author for public analysis, with
    no explicit licence stated. It is redistributed here unchanged (SHA-256 of
    the decompressed CSV: ``0e5893329d8b93ce...4f291aece``, see
    ``HILLSTROM_SHA256``) for research and teaching.

    Examples
    --------
    >>> from upliftopt import load_hillstrom
    >>> data = load_hillstrom("visit")
    >>> data.X.shape, data.control, data.arms
    ((64000, 9), 'No E-Mail', ('Mens E-Mail', 'Womens E-Mail'))
    >>> data.y.groupby(data.T).mean().round(4).to_dict()
    {'Mens E-Mail': 0.1828, 'No E-Mail': 0.1062, 'Womens E-Mail': 0.1514}
    """
    if outcome not in HILLSTROM_OUTCOMES:
        raise ValueError(
            f"outcome must be one of {', '.join(map(repr, HILLSTROM_OUTCOMES))}; got {outcome!r}"
        )
    raw = _hillstrom_bytes()
    if verify:
        digest = hashlib.sha256(raw).hexdigest()
        if digest != HILLSTROM_SHA256:
            raise UpliftOptError(
                f"the shipped Hillstrom file is corrupt or modified: SHA-256 {digest}, "
                f"expected {HILLSTROM_SHA256}; reinstall upliftopt"
            )
    frame = pd.read_csv(io.BytesIO(raw))
    logger.debug("load_hillstrom: read %d rows", len(frame))

    labels = pd.Index([_HILLSTROM_CONTROL, *_HILLSTROM_ARMS], name="label")
    outcomes = frame[list(HILLSTROM_OUTCOMES)].astype(np.float64)
    return HillstromData(
        frame=frame,
        X=_encode_hillstrom(frame),
        T=frame["segment"].rename("treatment"),
        y=outcomes[outcome].copy(),
        outcomes=outcomes,
        outcome=outcome,
        control=_HILLSTROM_CONTROL,
        arms=_HILLSTROM_ARMS,
        propensity=pd.DataFrame(np.full((len(frame), 3), 1.0 / 3.0), columns=labels),
    )
