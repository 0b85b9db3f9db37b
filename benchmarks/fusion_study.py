"""Fusion study: can the content side add hits to CF for new people? (companion of sessions.py)

Run on demand (not in CI), after ``benchmarks/sessions.py`` has cached its data, model and embeddings::

    python benchmarks/fusion_study.py

The session benchmark's hybrid ties CF with fold-in on total hits (its schedule and MMR settings were
swept on the validation group without a gain beyond two standard errors). This study asks whether *any*
way of using the content side does better than that hand-tuned blend, on the same strangers, with the
same simulation (``sessions.simulate``: rounds of 5, a person ticks exactly their positives):

1. **Fixed formulas** on the CF logit ``c`` and content similarities: ``c + b * cos(taste, i)`` for a
   few ``b``, ``c + b * (mean of the 3 largest cosines to a liked movie)`` (item-kNN content), and
   ``sigmoid(c) + 0.2 * cos``; CF's top 100 plus content's top 100 as candidates, MMR 0.9 as the hybrid.
2. **A learned fusion**: a logistic regression over per-candidate features (CF logit and its gap to
   the best candidate, taste cosine, the largest cosine to a liked and to a shown-not-ticked movie, the
   mean cosine to the shown-not-ticked, log popularity, and four of them multiplied by ``log(1 +
   likes)`` so the weights can move with feedback), trained on every candidate of every round of
   simulated sessions (label: the candidate is one of the person's positives), in two ways: cross-fitted
   on the two halves of the validation group (fit on one half, simulate the other), and fitted on the
   whole validation group and simulated once on the report group.

Every row is compared with CF with fold-in on the same people (paired difference of total hits, with
one standard error). Writes ``benchmarks/results/fusion_study.json`` and ``fusion_study.md``.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import logging
import os
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

os.environ.setdefault("HF_HUB_OFFLINE", "1")
for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import numpy as np  # noqa: E402

import sessions as S  # noqa: E402
from _host import host_facts  # noqa: E402

log = logging.getLogger("fusion_study")

FEATURES = (
    "cf logit",
    "cf gap to best",
    "cos(taste)",
    "max cos(liked)",
    "max cos(shown, not ticked)",
    "mean cos(shown, not ticked)",
    "log popularity",
    "cos(taste) x log(1+likes)",
    "max cos(liked) x log(1+likes)",
    "max cos(not ticked) x log(1+likes)",
    "cf logit x log(1+likes)",
)


@dataclass
class Parts:
    """What every ranker of the study shares (built once from the session benchmark's caches)."""

    cf: Any
    content: Any
    popularity: np.ndarray
    catalogue: Any
    config: Any
    validation: list[Any]
    report: list[Any]

    def ranker(self, cls: type, mode: str = "hybrid", **kw: Any) -> Any:
        cfg = dataclasses.replace(self.config, mode=mode)
        c = self.content
        return cls(self.popularity, cf=self.cf, vectors=c.vectors, index=c.index, config=cfg, **kw)


def load_parts(work: Path, n_report: int, n_validation: int) -> Parts:
    import torch

    from nextwatch.content import ContentModel
    from nextwatch.data.store import load_dataset
    from nextwatch.models.config import NeuMFConfig
    from nextwatch.recommend.foldin import FoldInScorer
    from nextwatch.recommend.ranker import RankerConfig

    torch.set_num_threads(1)
    ds = load_dataset(S.ensure_dataset(work))
    groups = S.hold_out(ds.user_ids().tolist(), n_report, n_validation, 0)
    train = S.training_dataset(ds, groups, work)
    model, _meta = S.train_neumf(train, NeuMFConfig.defaults("implicit", pretrain=True, seed=0), work)
    content = ContentModel.load_or_build(ds, progress=False)
    popularity = np.bincount(train.interactions.item_idx, minlength=ds.n_items).astype(np.float64)
    return Parts(
        cf=FoldInScorer(model),
        content=content,
        popularity=popularity,
        catalogue=S.Catalogue.of(ds.items, content.vectors),
        config=S.recommended_config(RankerConfig()),
        validation=S.people_of(ds, groups.validation),
        report=S.people_of(ds, groups.report),
    )


def _ranker_classes() -> tuple[type, type]:
    from nextwatch.recommend.fusion import minmax, mmr
    from nextwatch.recommend.ranker import HybridRanker, Ranked

    class StudyRanker(HybridRanker):
        """The hybrid's candidates (CF top-N and content top-N) scored by ``fuse`` instead of the blend."""

        def __init__(self, *a: Any, fuse: Callable[..., np.ndarray], mmr_lambda: float = 0.9, **kw: Any):
            super().__init__(*a, **kw)
            self.fuse, self.mmr_lambda = fuse, mmr_lambda

        def candidates(self, liked: np.ndarray, shown: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
            """Candidate items and their feature rows (see :data:`FEATURES`)."""
            blocked = self._blocked(liked, shown)
            cfs = self.cf_scores(liked, shown, blocked)
            q = self.taste(liked)
            n = self.config.candidates
            cand = np.unique(
                np.concatenate([self._top(cfs, blocked, n), self._content_candidates(q, blocked, n)])
            )
            v = self.vectors
            c = cfs[cand]
            c = np.where(np.isnan(c), np.nanmin(c) - 1.0, c)  # an item CF cannot score ranks below
            taste = v[cand] @ q
            to_liked = v[cand] @ v[liked].T
            top3 = np.sort(to_liked, axis=1)[:, -3:].mean(axis=1)
            not_ticked = np.setdiff1d(shown, liked)
            to_neg = v[cand] @ v[not_ticked].T if len(not_ticked) else np.zeros((len(cand), 1))
            nl = np.log1p(len(liked))
            feats = np.stack(
                [
                    c,
                    c - c.max(),
                    taste,
                    to_liked.max(axis=1),
                    to_neg.max(axis=1),
                    to_neg.mean(axis=1),
                    np.log1p(self.popularity[cand]),
                    taste * nl,
                    to_liked.max(axis=1) * nl,
                    to_neg.max(axis=1) * nl,
                    c * nl,
                ],
                axis=1,
            )
            return cand, np.concatenate([feats, top3[:, None]], axis=1)

        def rank(self, liked: Any, shown: Any, k: int = 5, *, taste: Any = None) -> list[Any]:
            liked = np.unique(np.asarray(liked, dtype=np.int64))
            shown = np.unique(np.asarray(shown, dtype=np.int64))
            if len(liked) == 0:
                return self.popular(liked, shown, k, diversify=True)
            cand, feats = self.candidates(liked, shown)
            rel = minmax(self.fuse(feats))
            if self.mmr_lambda < 1.0:
                order = mmr(rel, self.vectors[cand], k, lambda_=self.mmr_lambda)
            else:
                order = np.argsort(-rel, kind="stable")[:k]
            return [Ranked(int(cand[o]), float(rel[o]), {}, "cf", None) for o in order]

    return HybridRanker, StudyRanker


def fit_logistic(
    x: np.ndarray, y: np.ndarray, l2: float = 1e-3
) -> tuple[np.ndarray, float, np.ndarray, np.ndarray]:
    """L2-regularised logistic regression on standardised features (torch L-BFGS): weights, bias, mean, sd."""
    import torch

    mu, sd = x.mean(axis=0), x.std(axis=0) + 1e-9
    xt = torch.from_numpy((x - mu) / sd).float()
    yt = torch.from_numpy(y.astype(np.float32))
    w = torch.zeros(x.shape[1], requires_grad=True)
    b = torch.zeros(1, requires_grad=True)
    opt = torch.optim.LBFGS([w, b], max_iter=200, line_search_fn="strong_wolfe")

    def closure() -> torch.Tensor:
        opt.zero_grad()
        loss = torch.nn.functional.binary_cross_entropy_with_logits(xt @ w + b, yt) + l2 * (w * w).sum()
        loss.backward()
        return loss

    opt.step(closure)
    return w.detach().numpy().astype(np.float64), float(b.item()), mu, sd


def logistic_fuse(
    w: np.ndarray, b: float, mu: np.ndarray, sd: np.ndarray
) -> Callable[[np.ndarray], np.ndarray]:
    """The fitted regression as a ``fuse`` for :class:`StudyRanker`: logits of the standardised features."""

    def fuse(f: np.ndarray) -> np.ndarray:
        return ((f[:, : len(FEATURES)] - mu) / sd) @ w + b

    return fuse


def collect(ranker: Any, people: Sequence[Any], rounds: int, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Feature rows of every candidate of every round (after the first like), labelled by the oracle;
    sessions driven by ``ranker``."""
    xs, ys = [], []
    for p in people:
        liked: list[int] = []
        shown: list[int] = []
        for _ in range(rounds):
            if liked:
                cand, feats = ranker.candidates(np.unique(liked), np.unique(shown))
                xs.append(feats[:, : len(FEATURES)])
                ys.append(np.isin(cand, list(p.positives)))
            items = [r.item_idx for r in ranker.rank(liked, shown, k)]
            liked += [i for i in items if i in p.positives]
            shown += items
    return np.concatenate(xs), np.concatenate(ys)


def hits_of(ranker: Any, people: Sequence[Any], parts: Parts, rounds: int, k: int) -> np.ndarray:
    return np.array([S.simulate(ranker, p, parts.catalogue, rounds, k).hits for p in people])


def versus(h: np.ndarray, base: np.ndarray) -> dict[str, Any]:
    d = h.sum(axis=1) - base.sum(axis=1)
    return {
        "hits": int(h.sum()),
        "minus_cf": int(d.sum()),
        "se": round(float(d.std(ddof=1) * np.sqrt(len(d))), 1),
        "per_round": h.sum(axis=0).tolist(),
    }


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--work", type=Path, default=S.REPO / "var" / "bench")
    ap.add_argument("--people", type=int, default=300, help="report group (as sessions.py)")
    ap.add_argument("--validation", type=int, default=200, help="validation group (as sessions.py)")
    ap.add_argument("--rounds", type=int, default=10)
    ap.add_argument("--out", type=Path, default=S.RESULTS)
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s", datefmt="%H:%M:%S")
    t0 = time.perf_counter()
    parts = load_parts(args.work, args.people, args.validation)
    hybrid_cls, study_cls = _ranker_classes()
    k, rounds = 5, args.rounds
    val, rep = parts.validation, parts.report
    cf_val = hits_of(parts.ranker(hybrid_cls, "cf"), val, parts, rounds, k)
    cf_rep = hits_of(parts.ranker(hybrid_cls, "cf"), rep, parts, rounds, k)
    rows: list[dict[str, Any]] = []

    def add(name: str, group: str, h: np.ndarray, base: np.ndarray, **extra: Any) -> None:
        rows.append({"fusion": name, "group": group, **versus(h, base), **extra})
        log.info("%-40s %-22s %s", name, group, rows[-1])

    for group, people, cf_hits in (("validation", val, cf_val), ("report", rep, cf_rep)):
        add("CF with fold-in", group, cf_hits, cf_hits)
        add(
            "hybrid (recommended settings)",
            group,
            hits_of(parts.ranker(hybrid_cls), people, parts, rounds, k),
            cf_hits,
        )

    def sig(c: np.ndarray) -> np.ndarray:
        return 1.0 / (1.0 + np.exp(-c))

    formulas: dict[str, Callable[[np.ndarray], np.ndarray]] = {
        "c + 1 cos(taste)": lambda f: f[:, 0] + 1.0 * f[:, 2],
        "c + 2 cos(taste)": lambda f: f[:, 0] + 2.0 * f[:, 2],
        "c + 4 cos(taste)": lambda f: f[:, 0] + 4.0 * f[:, 2],
        "c + 2 top-3 cos(liked)": lambda f: f[:, 0] + 2.0 * f[:, -1],
        "sigmoid(c) + 0.2 cos(taste)": lambda f: sig(f[:, 0]) + 0.2 * f[:, 2],
    }
    for name, fuse in formulas.items():
        h = hits_of(parts.ranker(study_cls, fuse=fuse), val, parts, rounds, k)
        add(name, "validation", h, cf_val)

    # learned fusion: sessions driven by the recommended hybrid provide the training rows
    logger = parts.ranker(study_cls, fuse=lambda f: f[:, 0])  # only its candidates() is used by collect
    driver = parts.ranker(hybrid_cls)

    class Driven:
        def candidates(self, liked: np.ndarray, shown: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
            return logger.candidates(liked, shown)

        def rank(self, liked: Any, shown: Any, k: int = 5) -> list[Any]:
            return driver.rank(liked, shown, k)

    half = len(val) // 2
    folds = [(val[:half], val[half:]), (val[half:], val[:half])]
    for lam in (0.9, 1.0):
        crossed = []
        for fit_people, test_people in folds:
            fuse = logistic_fuse(*fit_logistic(*collect(Driven(), fit_people, rounds, k)))
            crossed.append(
                hits_of(parts.ranker(study_cls, fuse=fuse, mmr_lambda=lam), test_people, parts, rounds, k)
            )
        h = np.concatenate([crossed[1], crossed[0]])  # back in validation order
        add(f"learned (logistic), MMR {lam}", "validation (cross-fitted)", h, cf_val)
    x, y = collect(Driven(), val, rounds, k)
    w, b, mu, sd = fit_logistic(x, y)
    learned = [
        {"feature": n, "weight (standardised)": round(float(v), 3)} for n, v in zip(FEATURES, w, strict=True)
    ]
    fuse_all = logistic_fuse(w, b, mu, sd)
    for lam in (0.9, 1.0):
        h = hits_of(parts.ranker(study_cls, fuse=fuse_all, mmr_lambda=lam), rep, parts, rounds, k)
        add(f"learned (logistic, fitted on validation), MMR {lam}", "report", h, cf_rep)

    res = {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "command": "python benchmarks/fusion_study.py",
        "machine": host_facts(),
        "people": {"validation": len(val), "report": len(rep)},
        "rounds": rounds,
        "k": k,
        "rows": rows,
        "learned_weights": learned,
        "training_rows": len(y),
        "positive_share": round(float(y.mean()), 4),
        "wall_s": round(time.perf_counter() - t0, 1),
    }
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "fusion_study.json").write_text(json.dumps(res, indent=1) + "\n", encoding="utf-8")
    (args.out / "fusion_study.md").write_text(markdown(res), encoding="utf-8")
    log.info("wrote %s", args.out / "fusion_study.md")
    return 0


def markdown(res: dict[str, Any]) -> str:
    lines = [
        "# Fusion study: can content add hits to CF for new people?",
        "",
        f"Generated by `{res['command']}` on {res['date']} ({res['wall_s'] / 60:.0f} min; load average "
        f"at the start {res['machine']['load_average']}). Same strangers, model, embeddings and "
        f"simulation as `sessions.py`: {res['people']['validation']} validation and "
        f"{res['people']['report']} report people, {res['rounds']} rounds of {res['k']}. See the "
        "script's docstring for the method.",
        "",
        "| fusion | group | hits | minus CF (± 1 SE) | hits per round |",
        "|---|---|---:|---:|---|",
    ]
    for r in res["rows"]:
        diff = "–" if r["fusion"] == "CF with fold-in" else f"{r['minus_cf']:+d} ± {r['se']:.0f}"
        lines.append(
            f"| {r['fusion']} | {r['group']} | {r['hits']} | {diff} | {', '.join(map(str, r['per_round']))} |"
        )
    lines += [
        "",
        f"Learned weights (fitted on the whole validation group: {res['training_rows']:,} candidate rows, "
        f"{res['positive_share']:.1%} positives; features standardised):",
        "",
        "| feature | weight |",
        "|---|---:|",
        *[f"| {w['feature']} | {w['weight (standardised)']:+.3f} |" for w in res["learned_weights"]],
        "",
    ]
    return "\n".join(lines)


if __name__ == "__main__":
    raise SystemExit(main())
