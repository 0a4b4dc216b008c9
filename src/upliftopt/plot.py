"""Plots of effects, allocations and their evaluation (matplotlib).

Every function draws on the axes it is given (``ax=``, or ``axes=`` for the
multi-panel :func:`cate_scatter`), creates a new figure when given none, and
returns what it drew on: one ``Axes``, or for :func:`cate_scatter` a 1-D array
of ``Axes``. Nothing is shown (no ``plt.show()``) and matplotlib is imported
only when a function is called, so ``import upliftopt`` stays light.

:func:`cate_scatter`
    Estimated against true effect, one panel per arm, with the identity line.
:func:`budget_frontier`
    Net value against budget for each method (e.g. :func:`upliftopt.frontier`).
:func:`qini_curves`
    Qini / uplift / policy gain curves with their random-targeting lines.
:func:`allocation_mix`
    Customers per arm as stacked bars, optionally per segment.
:func:`effect_intervals`
    Point estimate and confidence interval for a sample of customers, sorted,
    marking the intervals that exclude zero.
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from .allocation import Allocation

if TYPE_CHECKING:  # pragma: no cover
    from matplotlib.axes import Axes

__all__ = [
    "allocation_mix",
    "budget_frontier",
    "cate_scatter",
    "effect_intervals",
    "qini_curves",
]

#: Label of the untreated stack in :func:`allocation_mix`.
UNTREATED = "untreated"


def _axes_or_new(ax: Axes | None, figsize: tuple[float, float] = (6.0, 4.0)) -> Axes:
    if ax is not None:
        return ax
    import matplotlib.pyplot as plt

    _, ax = plt.subplots(figsize=figsize)
    return ax


def _finite_matrix(data: Any, name: str) -> np.ndarray:
    try:
        array = np.asarray(data, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{name} must be numeric: {exc}") from None
    bad = np.argwhere(~np.isfinite(array))
    if bad.size:
        cell = ", ".join(str(int(i)) for i in bad[0])
        raise ValueError(f"{name}[{cell}] is {float(array[tuple(bad[0])])!r}; it must be finite")
    return array


def _effect_frame(data: Any, name: str, arms: Sequence[Hashable] | None) -> pd.DataFrame:
    """Return an (n, K) effect matrix as a DataFrame whose columns are arm labels."""
    if isinstance(data, pd.Series):
        data = data.to_frame()
    if isinstance(data, pd.DataFrame):
        frame = pd.DataFrame(_finite_matrix(data.to_numpy(), name), columns=data.columns)
    else:
        array = _finite_matrix(data, name)
        if array.ndim == 1:
            array = array[:, None]
        if array.ndim != 2:
            raise ValueError(f"{name} must be 2-D (customers x arms); got shape {array.shape}")
        columns = list(arms) if arms is not None else list(range(array.shape[1]))
        if len(columns) != array.shape[1]:
            raise ValueError(
                f"{name} has {array.shape[1]} columns but there are {len(columns)} arms"
            )
        frame = pd.DataFrame(array, columns=pd.Index(columns, dtype=object))
    if frame.shape[0] == 0 or frame.shape[1] == 0:
        raise ValueError(f"{name} is empty: shape {frame.shape}")
    return frame


# --------------------------------------------------------------------------
# Estimated against true effects
# --------------------------------------------------------------------------


def cate_scatter(
    estimated: Any,
    true: Any,
    *,
    axes: Any = None,
    sample: int | None = None,
    random_state: Any = None,
) -> np.ndarray:
    """Scatter estimated against true effects, one panel per arm.

    Each panel plots the true effect (x) against the estimate (y) for every
    customer, with the identity line ``y = x`` dashed; its title names the arm
    and the root mean squared error over all customers.

    Parameters
    ----------
    estimated, true : DataFrame or array-like of shape (n, K)
        Estimated and true effect of each arm. Two DataFrames are matched by
        column label (same arms, any order; panels follow ``estimated``);
        an array follows the other argument's column order.
    axes : sequence of K Axes, optional
        Where to draw, one per arm; a new 1 x K figure when None.
    sample : int, optional
        Plot a random subset of this many customers (all when None); the RMSE
        in the title still uses every customer.
    random_state : int, Generator or None
        Seeds the subset.

    Returns
    -------
    ndarray of Axes, shape (K,)

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> import numpy as np
    >>> from upliftopt.plot import cate_scatter
    >>> true = np.array([[0.0, 1.0], [1.0, 2.0], [2.0, 3.0]])
    >>> axes = cate_scatter(true + 0.1, true)
    >>> len(axes), axes[0].get_xlabel(), axes[0].get_ylabel()
    (2, 'true effect', 'estimated effect')
    """
    est_arms = list(estimated.columns) if isinstance(estimated, pd.DataFrame) else None
    true_arms = list(true.columns) if isinstance(true, pd.DataFrame) else None
    est = _effect_frame(estimated, "estimated", true_arms)
    tru = _effect_frame(true, "true", est_arms if est_arms is not None else list(est.columns))
    if len(est.columns) != len(tru.columns) or set(est.columns) != set(tru.columns):
        raise ValueError(
            f"estimated arms {list(est.columns)!r} do not match true arms {list(tru.columns)!r}"
        )
    if est.shape[0] != tru.shape[0]:
        raise ValueError(f"estimated has {est.shape[0]} rows but true has {tru.shape[0]}")
    arms = list(est.columns)
    tru = tru[arms]
    n = est.shape[0]
    rows = np.arange(n)
    if sample is not None:
        if not isinstance(sample, int | np.integer) or sample < 1:
            raise ValueError(f"sample must be a positive integer or None; got {sample!r}")
        if sample < n:
            rows = np.sort(np.random.default_rng(random_state).choice(n, sample, replace=False))
    if axes is None:
        import matplotlib.pyplot as plt

        _, created = plt.subplots(1, len(arms), figsize=(4.0 * len(arms), 4.0), squeeze=False)
        axes_array = created[0]
    else:
        axes_array = np.asarray(axes, dtype=object).ravel()
        if axes_array.size < len(arms):
            raise ValueError(f"axes has {axes_array.size} Axes but there are {len(arms)} arms")
        axes_array = axes_array[: len(arms)]
    for ax, arm in zip(axes_array, arms, strict=True):
        x, y = tru[arm].to_numpy(), est[arm].to_numpy()
        rmse = float(np.sqrt(np.mean((y - x) ** 2)))
        ax.scatter(x[rows], y[rows], s=6, alpha=0.5)
        low, high = float(min(x.min(), y.min())), float(max(x.max(), y.max()))
        ax.plot([low, high], [low, high], linestyle="--", color="black", linewidth=1)
        ax.set_title(f"{arm} (RMSE {rmse:.3g})")
        ax.set_xlabel("true effect")
        ax.set_ylabel("estimated effect")
    return axes_array


# --------------------------------------------------------------------------
# Budget frontier
# --------------------------------------------------------------------------

_FRONTIER_LABELS = {
    "lp_bound": "LP bound",
    "exact": "exact",
    "greedy": "greedy",
    "random": "random",
}


def budget_frontier(
    frontier: pd.DataFrame,
    *,
    ax: Axes | None = None,
    budget: str = "budget",
    methods: Sequence[str] | None = None,
) -> Axes:
    """Net value against budget, one line per method.

    Parameters
    ----------
    frontier : DataFrame
        A ``budget`` column and one column of net values per method, e.g. the
        frame of :func:`upliftopt.frontier` (``lp_bound``, ``exact``,
        ``greedy``, ``random``). Rows are plotted in increasing budget; NaN
        values (a method that found nothing) leave gaps.
    ax : Axes, optional
        Where to draw; a new figure when None.
    budget : str, default "budget"
        Name of the budget column.
    methods : sequence of str, optional
        Columns to draw, in this order; every other column when None. The
        ``lp_bound`` column is drawn dashed: it bounds every method.

    Returns
    -------
    Axes

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> import pandas as pd
    >>> from upliftopt.plot import budget_frontier
    >>> frame = pd.DataFrame({"budget": [0, 1, 2], "exact": [0, 3, 4], "greedy": [0, 2, 4]})
    >>> ax = budget_frontier(frame)
    >>> [line.get_label() for line in ax.get_lines()]
    ['exact', 'greedy']
    """
    if not isinstance(frontier, pd.DataFrame):
        raise ValueError(f"frontier must be a DataFrame; got {type(frontier).__name__}")
    if budget not in frontier.columns:
        raise ValueError(
            f"frontier has no {budget!r} column; its columns are {list(frontier.columns)!r}"
        )
    if frontier.shape[0] == 0:
        raise ValueError("frontier is empty (0 rows)")
    if methods is None:  # every value column; spend columns are not net values
        columns = [c for c in frontier.columns if c != budget and not str(c).endswith("_spend")]
    else:
        columns = list(methods)
    missing = [c for c in columns if c not in frontier.columns]
    if missing:
        raise ValueError(f"frontier has no column(s) {', '.join(map(repr, missing))}")
    if not columns:
        raise ValueError("frontier has no method column to plot besides the budget")
    data = frontier.sort_values(budget, kind="stable")
    x = _finite_matrix(data[budget].to_numpy(), budget)
    ax = _axes_or_new(ax)
    for column in columns:
        try:
            y = data[column].to_numpy(dtype=np.float64)
        except (TypeError, ValueError):
            raise ValueError(f"frontier column {column!r} must be numeric") from None
        dashed = column == "lp_bound"
        ax.plot(
            x,
            y,
            label=_FRONTIER_LABELS.get(column, str(column)),
            linestyle="--" if dashed else "-",
            marker=None if dashed else "o",
            markersize=3,
        )
    ax.set_xlabel("budget")
    ax.set_ylabel("net value")
    ax.legend()
    return ax


# --------------------------------------------------------------------------
# Qini / uplift / gain curves
# --------------------------------------------------------------------------


def qini_curves(
    curves: pd.DataFrame | Mapping[Hashable, pd.DataFrame],
    *,
    ax: Axes | None = None,
    x: str = "n_targeted",
    random: bool = True,
) -> Axes:
    """Draw gain curves with their random-targeting lines.

    Parameters
    ----------
    curves : DataFrame or mapping {label: DataFrame}
        Frames from :func:`upliftopt.evaluate.qini_curve`,
        :func:`~upliftopt.evaluate.uplift_curve` or
        :func:`~upliftopt.evaluate.policy_gain_curve` (columns ``gain``,
        ``random`` and ``x``); a mapping draws one curve per key (e.g. per arm),
        labelled by the key.
    ax : Axes, optional
        Where to draw; a new figure when None.
    x : {"n_targeted", "fraction"}, default "n_targeted"
        Column on the x axis.
    random : bool, default True
        Also draw each curve's random-targeting line (dotted, same colour).

    Returns
    -------
    Axes
        One solid line per curve (labelled), then its dotted random line.

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> from upliftopt.evaluate import qini_curve
    >>> from upliftopt.plot import qini_curves
    >>> curve = qini_curve([0.9, 0.5, 0.4, 0.1], [1, 0, 1, 1], ["t", "c", "t", "c"],
    ...                    treatment="t", control="c")
    >>> ax = qini_curves({"t": curve})
    >>> ax.get_lines()[0].get_ydata().tolist()
    [0.0, 1.0, 1.0, 2.0, 1.0]
    """
    items = list(curves.items()) if isinstance(curves, Mapping) else [(None, curves)]
    if not items:
        raise ValueError("curves is empty: give at least one curve")
    for label, frame in items:
        what = "curves" if label is None else f"curves[{label!r}]"
        if not isinstance(frame, pd.DataFrame):
            raise ValueError(f"{what} must be a DataFrame; got {type(frame).__name__}")
        needed = [x, "gain", *(["random"] if random else [])]
        missing = [c for c in needed if c not in frame.columns]
        if missing:
            raise ValueError(f"{what} has no column(s) {', '.join(map(repr, missing))}")
    ax = _axes_or_new(ax)
    for label, frame in items:
        xs = frame[x].to_numpy(dtype=np.float64)
        (line,) = ax.plot(xs, frame["gain"].to_numpy(dtype=np.float64), label=label)
        if random:
            ax.plot(
                xs,
                frame["random"].to_numpy(dtype=np.float64),
                linestyle=":",
                color=line.get_color(),
                label="_random",  # underscore: kept out of the legend
            )
    ax.axhline(0.0, color="grey", linewidth=0.5)
    ax.set_xlabel("customers targeted" if x == "n_targeted" else "fraction targeted")
    ax.set_ylabel("cumulative incremental gain")
    if any(label is not None for label, _ in items):
        ax.legend()
    return ax


# --------------------------------------------------------------------------
# Allocation mix
# --------------------------------------------------------------------------


def allocation_mix(
    allocation: Any,
    *,
    segments: Any = None,
    ax: Axes | None = None,
    include_untreated: bool = True,
    normalize: bool = False,
) -> Axes:
    """Draw the customers per arm as stacked bars, optionally one bar per segment.

    Parameters
    ----------
    allocation : Allocation or sequence of labels
        Each customer's arm; ``None`` (or an Allocation's ``-1``) is untreated.
    segments : Series or array-like of shape (n,), optional
        A segment per customer (e.g. a customer tier); one bar per segment level
        (sorted). A single bar ``"all"`` when None.
    ax : Axes, optional
        Where to draw; a new figure when None.
    include_untreated : bool, default True
        Stack the untreated customers too (label ``"untreated"``, on top).
    normalize : bool, default False
        Bar heights as shares of each segment's customers (untreated ones
        included, even when not drawn) instead of counts.

    Returns
    -------
    Axes
        One bar container per stack (arm), in arm order, each with one bar
        per segment; ``ax.containers`` holds them.

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> from upliftopt.plot import allocation_mix
    >>> ax = allocation_mix(["A", "B", None, "A"], segments=["x", "x", "y", "y"])
    >>> [[float(bar.get_height()) for bar in c] for c in ax.containers]  # A, B, untreated
    [[1.0, 1.0], [1.0, 0.0], [0.0, 1.0]]
    """
    if isinstance(allocation, Allocation):
        arms = list(allocation.arms)
        labels = allocation.labels()
        index = allocation.index
    else:
        if isinstance(allocation, str) or np.ndim(allocation) != 1:
            raise ValueError("allocation must be an Allocation or a 1-D sequence of labels")
        labels = np.array(
            allocation.to_numpy() if isinstance(allocation, pd.Series) else allocation,
            dtype=object,
        )
        labels[pd.isna(labels)] = None
        index = allocation.index if isinstance(allocation, pd.Series) else None
        present = [label for label in pd.unique(labels) if label is not None]
        try:
            arms = sorted(present)
        except TypeError:
            arms = present
    n = labels.shape[0]
    if n == 0:
        raise ValueError("allocation has no customers")
    if segments is None:
        groups = np.full(n, "all", dtype=object)
    else:
        if (
            isinstance(segments, pd.Series)
            and index is not None
            and not segments.index.equals(index)
        ):
            raise ValueError("segments' index does not match the allocation's customers")
        groups = np.array(
            segments.to_numpy() if isinstance(segments, pd.Series) else segments, dtype=object
        )
        if groups.ndim != 1 or groups.shape[0] != n:
            raise ValueError(
                f"segments must have one entry per customer ({n}); got shape {groups.shape}"
            )
        missing = np.flatnonzero(pd.isna(groups))
        if missing.size:
            raise ValueError(f"segments[{missing[0]}] is missing; give every customer a segment")
    stacks = [*arms, UNTREATED] if include_untreated else arms
    stack_of = np.array([UNTREATED if label is None else label for label in labels], dtype=object)
    table = pd.crosstab(
        pd.Categorical(stack_of, categories=pd.Index([*arms, UNTREATED], dtype=object)),
        groups,
        dropna=False,
    )
    # Shares are of all the segment's customers, untreated included even when hidden.
    totals = table.to_numpy(dtype=np.float64).sum(axis=0)
    table = table.reindex(index=pd.Index(stacks, dtype=object), fill_value=0)
    counts = table.to_numpy(dtype=np.float64)
    if normalize:
        counts = np.divide(counts, totals, out=np.zeros_like(counts), where=totals > 0)
    ax = _axes_or_new(ax)
    positions = np.arange(table.shape[1])
    bottom = np.zeros(table.shape[1])
    for stack, heights in zip(stacks, counts, strict=True):
        color = "lightgrey" if stack == UNTREATED else None
        ax.bar(positions, heights, bottom=bottom, label=str(stack), color=color)
        bottom = bottom + heights
    ax.set_xticks(positions, [str(level) for level in table.columns])
    ax.set_xlabel("segment" if segments is not None else "")
    ax.set_ylabel("share of customers" if normalize else "customers")
    ax.legend(title="arm")
    return ax


# --------------------------------------------------------------------------
# Intervals
# --------------------------------------------------------------------------


def _chosen(data: Any, name: str, allocation: Allocation | None, n: int | None) -> np.ndarray:
    """Per-customer vector: as given (1-D), or the allocation's chosen arm of a matrix."""
    if allocation is None:
        array = _finite_matrix(
            data.to_numpy() if isinstance(data, pd.Series | pd.DataFrame) else data, name
        )
        if array.ndim == 2 and array.shape[1] == 1:
            array = array[:, 0]
        if array.ndim != 1:
            raise ValueError(
                f"{name} must be 1-D (one value per customer) unless allocation is given to "
                f"pick each customer's arm; got shape {array.shape}"
            )
    else:
        frame = _effect_frame(data, name, allocation.arms)
        if set(frame.columns) != set(allocation.arms) or frame.shape[1] != len(allocation.arms):
            raise ValueError(
                f"{name} columns {list(frame.columns)!r} do not match the allocation's arms "
                f"{list(allocation.arms)!r}"
            )
        if frame.shape[0] != allocation.n_customers:
            raise ValueError(
                f"{name} has {frame.shape[0]} rows but the allocation has "
                f"{allocation.n_customers} customers"
            )
        matrix = frame[list(allocation.arms)].to_numpy()
        array = np.full(frame.shape[0], np.nan)
        treated = allocation.treated
        array[treated] = matrix[np.flatnonzero(treated), allocation.assignment[treated]]
    if n is not None and array.shape[0] != n:
        raise ValueError(f"{name} has {array.shape[0]} rows but estimate has {n}")
    return array


def effect_intervals(
    estimate: Any,
    lower: Any,
    upper: Any,
    *,
    allocation: Allocation | None = None,
    ax: Axes | None = None,
    n_customers: int | None = 50,
    random_state: Any = None,
) -> Axes:
    """Point estimates and confidence intervals for a sample of customers.

    The sampled customers are sorted by estimate (left to right). Intervals
    that exclude zero (``lower > 0`` or ``upper < 0``) are drawn in colour, the
    others in grey; a horizontal line marks zero, and the title counts them.

    Parameters
    ----------
    estimate, lower, upper : array-like of shape (n,), or (n, K) with ``allocation``
        Point estimate and interval bounds per customer; with ``allocation``,
        effect matrices (DataFrames with the arms as columns, or arrays in the
        allocation's arm order) of which each treated customer's chosen arm
        is shown. Must satisfy ``lower <= estimate <= upper``.
    allocation : Allocation, optional
        Picks the chosen arm; only treated customers are then sampled.
    ax : Axes, optional
        Where to draw; a new figure when None.
    n_customers : int or None, default 50
        How many customers to sample (all when None or when fewer exist).
    random_state : int, Generator or None
        Seeds the sample.

    Returns
    -------
    Axes
        Two errorbar containers in ``ax.containers``: intervals excluding
        zero (label ``"excludes 0"``), then the others (``"includes 0"``).

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> from upliftopt.plot import effect_intervals
    >>> ax = effect_intervals([1.0, 0.2, -0.5], [0.5, -0.1, -0.9], [1.5, 0.5, -0.1])
    >>> ax.get_title()
    '2 of 3 intervals exclude 0'
    """
    if allocation is not None and not isinstance(allocation, Allocation):
        raise ValueError(f"allocation must be an Allocation; got {type(allocation).__name__}")
    point = _chosen(estimate, "estimate", allocation, None)
    low = _chosen(lower, "lower", allocation, point.shape[0])
    high = _chosen(upper, "upper", allocation, point.shape[0])
    available = (
        np.flatnonzero(allocation.treated) if allocation is not None else np.arange(point.shape[0])
    )
    if available.size == 0:
        raise ValueError("no customer to plot: the allocation treats nobody")
    tolerance = 1e-9 * np.maximum(1.0, np.abs(point[available]))
    bad = (low[available] > point[available] + tolerance) | (
        point[available] > high[available] + tolerance
    )
    if bad.any():
        i = int(available[np.flatnonzero(bad)[0]])
        raise ValueError(
            f"customer {i}: estimate {float(point[i])!r} lies outside its interval "
            f"[{float(low[i])!r}, {float(high[i])!r}]; expected lower <= estimate <= upper"
        )
    if n_customers is not None:
        if not isinstance(n_customers, int | np.integer) or n_customers < 1:
            raise ValueError(f"n_customers must be a positive integer or None; got {n_customers!r}")
        if n_customers < available.size:
            rng = np.random.default_rng(random_state)
            available = rng.choice(available, n_customers, replace=False)
    chosen = available[np.argsort(point[available], kind="stable")]
    y = point[chosen]
    lo = np.minimum(low[chosen], y)
    hi = np.maximum(high[chosen], y)
    positions = np.arange(chosen.size)
    excludes = (lo > 0) | (hi < 0)
    ax = _axes_or_new(ax)
    for mask, label, color in ((excludes, "excludes 0", "C0"), (~excludes, "includes 0", "grey")):
        ax.errorbar(
            positions[mask],
            y[mask],
            yerr=np.vstack([y[mask] - lo[mask], hi[mask] - y[mask]]),
            fmt="o",
            markersize=3,
            capsize=2,
            color=color,
            label=label,
        )
    ax.axhline(0.0, color="black", linewidth=0.8)
    ax.set_xlabel("customers (sorted by estimate)")
    ax.set_ylabel("estimated effect")
    ax.set_title(f"{int(excludes.sum())} of {chosen.size} intervals exclude 0")
    ax.legend()
    return ax
