"""The default model zoo: the models `init` writes into competition.toml and `run` uses when the
config names none, chosen by task and data shape.

Each member is one entry of `ZOO`: a name, the model table per task kind (classification or
regression), when it applies (inputs it needs, the largest table it is worth its time on) and what
it changes on a large table (`sized`: fewer rounds' patience, a faster learning rate, fewer epochs,
where the small-table setting costs minutes and adds nothing measurable).
Members are strong and diverse rather than many: on a table, LightGBM with the meta-tuned "TD" defaults of
Holzmueller et al. 2024 ("Better by Default", pytabkit), a small-leaf slow LightGBM, a seven-leaf one
for noisy targets and an extra-trees LightGBM for diversity, a linear model on scaled / one-hot features, the snapshot MLP,
and the DenseNet for a pixel grid (text reaches the models through the TF-IDF feature blocks). The
ensemble stage then picks and weights them by honest out-of-fold score, and the time-budget
planner (pipeline/planner.py) trains the cheap ones first.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable


@dataclass(frozen=True)
class Facts:
    """What the zoo looks at: rows and feature columns of train, and the array inputs it will have."""

    rows: int
    cols: int
    text: bool = False
    image: bool = False
    classes: int = 1  # trees a boosting round grows: the classes of a multiclass target, else 1

    @property
    def cells(self) -> int:
        return self.rows * max(self.cols, 1)

    @property
    def round_rows(self) -> int:
        """Rows times trees per boosting round: what one round of a boosting member costs."""
        return self.rows * max(self.classes, 1)


@dataclass(frozen=True)
class ZooEntry:
    """A zoo entry (a default model): its model table for classification and for regression, and when it applies."""

    name: str
    why: str
    classification: dict | None
    regression: dict | None
    applies: Callable[[Facts], bool] = field(default=lambda facts: True)
    sized: Callable[[Facts], dict] = field(default=lambda facts: {})  # params changed for this table's size


# LightGBM "TD" defaults (pytabkit default_params.py, LGBM_TD_CLASS / LGBM_TD_REG), meta-tuned on 71
# classification and 47 regression benchmark sets, with LightGBM's own leaf shape (31 leaves, at least 20
# rows each) in place of TD's (50 leaves of 40 rows; regression 100 leaves of 3 rows): on the 18-set suite
# the ensemble's OOF error fell by 0.39 % on average, better on 11 sets, worse on one (taxi -0.39 %), in the
# same time (benchmarks/members.py, 2026-12-02; leaf +3.4 %, stackoverflow +0.8 %, attrition +0.8 %, hmda
# +0.7 %). TD's leaves of 3 rows overfit tables of a few thousand rows: the 15-leaf slow member was the
# better LightGBM on ames_clean, concrete and deliveries. Early stopping (300 rounds' patience) is honest:
# an inner split of the fold's training rows, then a refit on all of them.
_LGBM_TD_CLASS = {"learning_rate": 0.04, "num_leaves": 31, "min_data_in_leaf": 20, "bagging_fraction": 0.75,
                  "bagging_freq": 1, "min_sum_hessian_in_leaf": 1e-7, "early_stopping_rounds": 300}
_LGBM_TD_REG = {"learning_rate": 0.05, "num_leaves": 31, "min_data_in_leaf": 20, "bagging_fraction": 0.7,
                "bagging_freq": 1, "min_sum_hessian_in_leaf": 1e-7, "early_stopping_rounds": 300}
# Shallow, slow and column-subsampled: a smoother member that disagrees with the TD model.
_LGBM_SLOW = {"num_leaves": 15, "learning_rate": 0.02, "feature_fraction": 0.7, "bagging_fraction": 0.8,
              "bagging_freq": 1, "min_child_samples": 10}
# Seven leaves of at least 20 rows, slow: the low-variance LightGBM for a noisy target, where the ensemble
# otherwise keeps one LightGBM alone (benchmarks/members.py, 2026-12-03, added on the 15 sets with the slow
# member: mean relative OOF error reduction of the ensemble +0.23 %, better on 6 beyond +-0.1 % (breast_cancer
# +1.3 %, caravan +1.2 %, stackoverflow +0.8 %, taxi +0.6 %, deliveries +0.4 %, titanic +0.3 %), worse on 3
# (hmda -0.4 %, hpc -0.3 %, fine_foods -0.2 %), 1.16x the members' seconds. Alone it is the best LightGBM on
# caravan, taxi, titanic, deliveries and wage. In place of the 15-leaf member instead: +0.04 %, 8 worse.
# Up to 3,000 rounds: at lr 0.02 seven leaves need more rounds than the other members' 1,000.
_LGBM_SHALLOW = {**_LGBM_SLOW, "num_leaves": 7, "min_child_samples": 20, "n_estimators": 3000}
# Random split thresholds: a differently-biased tree ensemble at boosting's cost.
_LGBM_EXTRA = {"extra_trees": True, "num_leaves": 63, "learning_rate": 0.03, "feature_fraction": 0.6}
# The slow and extra-trees members keep the 1,000-round cap, though on concrete and deliveries it ends them
# before early stopping does: with 3,000 rounds they improved alone and the ensembles did not move (+0.00 %
# on the five sets where the cap binds, 2026-12-05).

# CatBoost with AutoGluon's shape (depth 6, l2_leaf_reg 3, random_strength 1, one leaf-estimation step, 100
# rounds' patience) at lr 0.08 for up to 1,000 rounds: oblivious trees and ordered target statistics, the
# member that differs most from the LightGBMs. AutoGluon medium's own validation ranked it first on
# stackoverflow, taxi and hmda. Added to the 16 sets with trees (benchmarks/members.py, 2026-12-04 19:20, on
# the 18:27 run's workspaces; paired bootstrap over rows, 90 %), the ensemble's OOF error fell on concrete
# (+6.2 %), hpc (+1.0 %), deliveries (+0.4 %) and movies (+0.08 %) beyond the rows' noise. No set was worse
# beyond it; an identical second copy of `lgbm` showed noise of the same size (breast_cancer -6.3 %).
# It leaves out the `pairs` block's products and ratios (features/_numeric.py; chosen for a table of 2-8
# quantities): scoring every border of up to 56 more columns cost it up to 11x its seconds (concrete 19 -> 212 s,
# hpc 80 -> 328 s of fold fits) and, on concrete, its lead (OOF RMSE 4.00 -> 4.14) where every LightGBM and the
# linear member gained; on the raw columns it is also the member that sees the table differently from the others.
PAIR_COLUMNS = ["*__x__*", "*__per__*"]
_CATBOOST = {"depth": 6, "learning_rate": 0.08, "l2_leaf_reg": 3.0, "random_strength": 1.0,
             "leaf_estimation_iterations": 1, "iterations": 1000, "early_stopping_rounds": 100,
             "ignored_features": PAIR_COLUMNS}
# A short, wide table: CatBoost scores every border of every column at each level of its symmetric trees,
# so its cost follows columns x borders, not rows. On breast_cancer (15 rows a column), cells (29) and
# ames_clean (32) it cost 2.8x, 1.3x and 0.7x the whole zoo's seconds (35, 35 and 54 s of fold fits) for no
# gain beyond the noise. Below this many rows per feature column it is left out.
_CATBOOST_ROWS_PER_COLUMN = 40
# On a pixel grid the CNN is the strong, different member, and trees on raw pixels cost minutes (one tree per
# class per round) for nothing: on digits the three LightGBM variants scored 0.975-0.981 OOF accuracy against
# the DenseNet's 0.992, and the one LightGBM the image kept got no weight in the chosen ensemble (method best,
# the DenseNet alone; without it the ensemble's OOF accuracy is the same 0.99165) for 16 of the run's 64
# seconds of training (benchmarks/members.py, 2026-12-04). So an image gets no LightGBM: the CNN, the MLP and
# the linear model (cheap members for a grid the CNN does not suit).
# Tables this large (rows x feature columns) make the costlier members not worth their minutes on 2 cores.
_MLP_MAX_CELLS = 3_000_000

# A large table: above this many training rows the settings below replace the small-table ones. Every
# boosting round and every epoch costs time in proportion to the rows, and what the slow settings buy
# on a few thousand rows (a patient early stop, a small learning rate, many passes, a third LightGBM)
# is not worth it here. Measured on the generated 50,000-row mixed table (benchmarks/quality.py
# --generated 50000; 5-fold OOF AUC; seconds of a 2-core machine shared with other work):
# - lgbm: 300 rounds' patience found the same best rounds as 100 (OOF 0.8335 both), 58 s -> 37 s;
# - lgbm_extra at lr 0.03 ran into the 1,000-round cap (under-fitted, and two fits a fold: early
#   stopping and the refit); at lr 0.06 it stops near 450: OOF 0.8386 -> 0.8383, 90 s -> 34 s;
# - lgbm_slow (lr 0.02) ran into the cap too (45 s; at lr 0.05: 29 s, OOF 0.8356 -> 0.8359), and it
#   costs what the extra-trees member costs for the same share of the ensemble: without it the
#   ensemble's OOF AUC was 0.8418 against 0.8425 (without lgbm_extra: 0.8416), and 0.8514 either way
#   once the MLP trains the epochs below. Extra trees, the more different model, stays;
# - mlp: about 500,000 training-row passes (50 epochs up to 10,000 rows, then fewer, at least 10, still
#   5 cycles): 50 epochs over 40,000 rows overfit (OOF AUC 0.8152, 157 s) where 10 scored 0.8514 (44 s).
LARGE_ROWS = 10_000
_MLP_ROW_PASSES = 500_000
# Many classes: a boosting round grows one tree per class, so each LightGBM variant costs classes times
# its binary cost. Above this many rows x classes -- the trees' rows a round grows, the large-table line of a
# single-output target -- the three diversity variants (slow, shallow, extra trees) go. On leaf (1,525 rows x
# 32 classes) the slow and extra-trees ones took 293 of the default run's 701 s, and the ensemble's OOF log
# loss without them was 0.01402 against 0.01426 with them. On hpc (3,464 rows x 4 classes = 13,856) the
# three took 59 of the members' 87 s and the ensemble without them scored 0.41420 against 0.41432
# (benchmarks/members.py on the 2026-12-04 13:22 run; without two of them: -0.2 % to +0.4 %). No other set
# of the 18 has a multiclass table; digits is an image and has no LightGBM.
MANY_CLASS_ROUND_ROWS = LARGE_ROWS
# Repeated k-fold doubles every member's training; with one LightGBM a many-class table up to this many
# rows x classes stays cheap enough for it (hpc, 13,856: its repeats gave +1.2 %; leaf, 48,800: not).
_REPEAT_ROUND_ROWS = 20_000


# The snapshot MLP trains on the first CV repeat only (`repeats = 1`; the ensemble reuses its OOF in the
# second repeat, each row still predicted by models that never saw it). It is the costliest member of a
# small table (35-70 % of the estimated training), and its second repeat bought nothing measurable:
# benchmarks/members.py (2026-12-04 23:20, the 22:12 workspaces, the 15 sets with two repeats, in place of
# `mlp`): the ensemble's mean relative OOF error reduction +0.08 %, worse on 2 (ames_clean -0.44 %,
# fine_foods -0.26 %, both inside their rows' noise), better on 6 (hpc +0.41 % beyond it), 0.82x the
# members' seconds (deliveries 91 -> 77 s, hmda 16 -> 10 s); unchanged on the 7 sets whose ensemble gives the
# MLP no weight.
# Its number of snapshot cycles is chosen per fold on an inner split of the fold's training rows, then it is
# trained again on all of them for that many (`select_cycles`), as the boosted members' rounds are. A fixed
# 50 epochs suits a set whose MLP keeps learning (deliveries chose 4-5 of 5 cycles) and overfits a weak or
# noisy binary, where one cycle is best (caravan's MLP: OOF AUC 0.699 -> 0.728, stackoverflow 0.640 -> 0.658,
# attrition 0.816 -> 0.842, fine_foods 0.843 -> 0.863). benchmarks/members.py (2026-12-05, the 06:25
# workspaces, all 18 sets, in place of `mlp`): the ensemble's mean relative OOF error reduction +0.11 % ±
# 0.48 %, worse on 4 (attrition -0.82 %, breast_cancer -0.64 %, titanic -0.08 %, taxi -0.04 %, each inside its
# rows' noise), better on 8 (fine_foods +0.69 % and deliveries +0.03 % beyond it; hmda +1.96 %, caravan
# +0.55 %), 0.99x the members' seconds (the small tables faster, deliveries 21 -> 34 s and movies 24 -> 40 s
# of MLP fits slower: where every cycle pays, the choosing run is most of a second fit).
# A learned weight per input in front of its first layer, learning twice as fast as the layer after it
# (`front_scale = 2`, RealMLP's scaling layer, Holzmueller et al. 2024): a standardised column's weight is
# shared by the 256 units that read it, so the net can quieten an input that carries nothing (deliveries' 27
# item counts, leaf's 57 shape and edge descriptors) with one weight instead of 256. benchmarks/members.py
# (2026-12-06, stop 63's 19:50 workspaces, all 18 sets, in place of `mlp`, each against the same seed without
# it): the ensemble's mean relative OOF error reduction +0.185 %, +0.137 %, +0.182 % at seeds 0, 1, 2;
# deliveries +0.71 %, +0.71 %, +0.79 % and leaf +3.1 %, +1.7 %, +2.6 %; worse beyond the rows' noise on none at
# seed 0; the member alone better on 11, 11, 12 of 18. At seed 3 (--seeds 3): -0.38 %, all of it breast_cancer's
# swing inside its rows' noise (without it +0.17 %; +0.20, +0.18, +0.19 % at seeds 0-2; worse beyond the noise on
# none). A factor of 6 (RealMLP's) and 20 gained more on leaf and deliveries and lost beyond the noise on taxi and
# fine_foods, and on caravan (benchmarks/SUITE.md, "Changed on the suite, 2026-12-06 21:30").
_MLP = {"type": "mlp", "repeats": 1, "params": {"select_cycles": True, "front_scale": 2.0}}


def _large(changes: dict) -> Callable[[Facts], dict]:
    return lambda facts: dict(changes) if facts.rows > LARGE_ROWS else {}


def _mlp_epochs(facts: Facts) -> dict:
    epochs = max(10, min(50, _MLP_ROW_PASSES // max(facts.rows, 1)))
    return {"epochs": epochs} if epochs < 50 else {}


def _trees(facts: Facts) -> bool:
    """Whether LightGBM runs at all: on a table, not on a pixel grid (the CNN's)."""
    return not facts.image


def _diversity(facts: Facts) -> bool:
    """Whether the LightGBM diversity variants run: not on a pixel grid, nor with a tree per class per round
    on many rows x classes (a large single-output table has its own settings: `sized`)."""
    return _trees(facts) and (facts.classes <= 1 or facts.round_rows <= MANY_CLASS_ROUND_ROWS)


def _slow_diversity(facts: Facts) -> bool:
    """Whether the slow LightGBM variants run: where the diversity variants do, up to a large table."""
    return _diversity(facts) and facts.rows <= LARGE_ROWS


def _catboost(facts: Facts) -> bool:
    """Whether CatBoost runs: on a table (not a pixel grid) with enough rows per column, and with few
    trees per round (a many-class table grows one per class, as LightGBM's diversity variants)."""
    return (_trees(facts) and facts.rows >= _CATBOOST_ROWS_PER_COLUMN * max(facts.cols, 1)
            and (facts.classes <= 1 or facts.round_rows <= _REPEAT_ROUND_ROWS))


def _td_lgbm(facts: Facts) -> bool:
    """Whether the TD LightGBM runs: on a table, unless CatBoost and the slow LightGBM variants both do.
    Beside those three it adds nothing measurable (left out on the 14 sets with the slow variants: +0.06 %
    and +0.01 % in two rounds, every change inside the noise), and CatBoost in its place keeps a
    small table's run within its time (hmda, deliveries)."""
    return _trees(facts) and not (_catboost(facts) and _slow_diversity(facts))


def _lgbm(params: dict) -> dict:
    return {"type": "lightgbm", "params": dict(params)}


ZOO: list[ZooEntry] = [
    ZooEntry("lgbm", "LightGBM with meta-tuned defaults (pytabkit TD), 31 leaves of at least 20 rows",
             _lgbm(_LGBM_TD_CLASS), _lgbm(_LGBM_TD_REG), _td_lgbm,
             sized=_large({"early_stopping_rounds": 100})),
    ZooEntry("lgbm_slow", "small-leaf, slow, column-subsampled LightGBM: diversity", _lgbm(_LGBM_SLOW),
           _lgbm(_LGBM_SLOW), _slow_diversity),
    ZooEntry("lgbm_shallow", "seven-leaf, slow LightGBM: the low-variance member for a noisy target",
             _lgbm(_LGBM_SHALLOW), _lgbm(_LGBM_SHALLOW), _slow_diversity),
    ZooEntry("lgbm_extra", "extra-trees LightGBM (random thresholds): diversity", _lgbm(_LGBM_EXTRA),
           _lgbm(_LGBM_EXTRA), _diversity, _large({"learning_rate": 0.06})),
    ZooEntry("catboost", "CatBoost (AutoGluon's shape): symmetric trees, ordered target statistics; on the raw "
                         "columns, not the pairs block's products and ratios",
             {"type": "catboost", "params": dict(_CATBOOST)}, {"type": "catboost", "params": dict(_CATBOOST)},
             _catboost),
    ZooEntry("linear", "linear model on imputed, scaled, one-hot features and a spline basis of each numeric "
                       "column: a curve per column (ridge: outlying rows trimmed)",
           {"type": "sklearn", "estimator": "sklearn.linear_model.LogisticRegression",
            "params": {"C": 0.3, "max_iter": 2000}, "preprocess": "splines"},
           {"type": "sklearn", "estimator": "sklearn.linear_model.Ridge", "params": {"alpha": 3.0},
            "trim_outliers": 4.0, "preprocess": "splines"}),
    ZooEntry("mlp", "torch MLP trained as a snapshot ensemble (up to 5 cosine cycles, as many as an inner split "
                    "chooses, their snapshots averaged), on the first CV repeat",
           dict(_MLP), dict(_MLP), lambda facts: facts.cells <= _MLP_MAX_CELLS, _mlp_epochs),
    ZooEntry("cnn", "DenseNet-BC on the pixel grid", {"type": "densenet"}, {"type": "densenet"},
           lambda facts: facts.image),
]
# The linear member's spline basis (preprocess = "splines", 2026-12-03, benchmarks/members.py with
# linear=>linear_spl on all 18 sets): the member's own OOF improved on 15 of 18 (taxi AUC 0.589 -> 0.643: tip
# rate against distance has a bump at airport distances that one slope cannot follow), the ensemble's OOF
# error fell 1.00 % on average (0.19 % without leaf; leaf +14.8 %, attrition +2.3 %, taxi +1.4 %), worse on 3 beyond
# +-0.1 % (fine_foods -0.9 %, stackoverflow -0.4 %, titanic -0.1 %), 1.01x the members' seconds. The same
# encoding idea for the MLP (numeric_bins = 8, piecewise-linear) helped the MLP alone on 14 sets but, on top
# of the splines, the ensemble on 3 and hurt it on 6: it stays an option.
# With the splines, ridge's alpha 10 -> 3 (members.py on the 6 regression sets): ames_clean +0.36 %,
# sacramento +0.11 % more, no set worse (alpha 30: ames_clean -0.38 %); logistic C 0.3 stays (C 0.1 and 1
# each better on some sets and worse on others: breast_cancer -3.1 / +3.1 %, attrition +1.6 / -2.1 %).
# Choosing C / alpha inside each fold by an inner CV instead (LogisticRegressionCV / RidgeCV, 2026-12-05, all
# 18 sets) improved the member on leaf and hpc, but the ensemble only by +0.18 % without digits, worse beyond
# the rows' noise on hpc (-0.58 %): the fixed penalties stay (benchmarks/SUITE.md, "Measured ... 2026-12-05").
# The RNN with attention (type = "rnn") is not a default member: on fine_foods it scored OOF AUC 0.828
# alone (TF-IDF + logistic: 0.868) and raised the default ensemble's OOF AUC by 0.0011 (0.8648 ->
# 0.8659) for five times the run time (32 s -> 170 s, benchmarks/nets.py). Text already reaches the
# zoo through the TF-IDF feature blocks; add [models.rnn] type = "rnn" where the minutes are worth it.
# Nor are scikit-learn's random forest, extra trees or KNN (AutoGluon's portfolio): added to the zoo on 16
# sets, the forest's OOF gain was +0.36 % without breast_cancer, median 0 (no weight on half the sets), for
# 1.29x the members' seconds and fold models of 30-90 MB each (a 150-tree forest on 6,400 rows, skops);
# README "Default models" has the table.


# Repeated k-fold (cv.repeats = 0, automatic): two fold assignments on a table up to LARGE_ROWS rows that is
# neither an image nor many-class. Every model trains on both and its OOF and test predictions are averaged,
# so each row's OOF prediction averages two models that never saw it (bagging AutoGluon's best_quality does
# with 8 folds). benchmarks/quality.py --setting repeats=2 against the default on all 18 sets (2026-12-03):
# mean relative OOF error reduction of the ensemble +4.5 % (median +1.2 %), worse on 3 (hmda -1.6 %,
# titanic -0.7 %, sacramento -0.1 %); concrete +6.1 %, fine_foods +3.3 %, attrition +2.5 %, ames_clean
# +1.7 %, hpc +1.2 %; leaf +13 % and digits +18 % too, but their training doubles on minutes (leaf 137 ->
# 274 s, digits 80 -> 153 s), as it would on a large table.
def default_repeats(facts: Facts) -> int:
    """CV repeats for this table when cv.repeats = 0: 2 where training is cheap, else 1."""
    cheap = facts.rows <= LARGE_ROWS and not facts.image and facts.round_rows <= _REPEAT_ROUND_ROWS
    return 2 if cheap else 1


# Model keys a multi-target task's zoo leaves out: trimming outliers was chosen on the suite's single-target
# regressions, and the suite has no multi-target set to choose it by (a user may still set it).
_SINGLE_TARGET_KEYS = ("trim_outliers",)


def default_models(task: str, facts: Facts) -> dict[str, dict]:
    """The zoo's model tables for a task kind (core.tasks.TASKS) and data shape, in zoo order."""
    from core.tasks import TASKS

    kind = TASKS[task]
    out = {}
    for member in ZOO:
        table = member.classification if kind.classification else member.regression
        if table is not None and member.applies(facts):
            if kind.multi_target:
                table = {key: value for key, value in table.items() if key not in _SINGLE_TARGET_KEYS}
            out[member.name] = {**table, "params": {**table.get("params", {}), **member.sized(facts)}}
    return out


def describe(task: str, facts: Facts) -> dict[str, str]:
    """Zoo entry name -> why it is in the zoo, for the comments `init` writes."""
    chosen = default_models(task, facts)
    return {m.name: m.why for m in ZOO if m.name in chosen}


def facts_of(train, test, *, id_col: str, target: str, task: str = "binary") -> Facts:
    """The zoo's facts from the raw tables: rows, columns, trees per boosting round, and whether the
    default feature blocks will make a token sequence (a free-text column) or an image (a pixel grid)."""
    from features.columns import column_kinds, pixel_grid

    columns = [c for c in train.columns if c not in (id_col, target) and c in test.columns]
    kinds = column_kinds(train, test, columns)
    numeric = [c for c, k in kinds.items() if k == "numeric"]
    return Facts(rows=len(train), cols=len(columns), text="text" in kinds.values(),
                 image=pixel_grid(numeric) is not None, classes=round_trees(task, train[target]))


def header_facts(columns: list[str], rows: int, classes: int = 1) -> Facts:
    """The zoo's facts from the shared column names, a row count and the trees per boosting round (a
    config without [models]: no table is read, so a pixel grid is recognised by its columns' names)."""
    from core.columns import pixel_grid

    return Facts(rows=rows, cols=len(columns), image=pixel_grid(columns) is not None, classes=classes)


def round_trees(task: str, target) -> int:
    """Trees a boosting round grows for this task and target column: one per class when each class has
    its own output (multiclass), else one."""
    from core.tasks import TASKS

    kind = TASKS.get(task)
    return int(target.nunique()) if kind is not None and kind.per_class_outputs else 1
