"""Feature blocks: small units that turn raw columns into model inputs, fitted without leakage.

The features stage calls `plan_features(...).build()` with the config's ``[features] blocks``; each entry
names a block and its parameters, e.g. ``{block = "target_encoding", columns = ["sex"]}``.
Built-in blocks (see each class's docstring for an example):

    numeric, missing_indicator, log, rank            numeric columns
    label, count, onehot, category                    categorical columns
    target_encoding                                   out-of-fold smoothed target means
    datetime, group_agg                               date parts, group statistics
    text_sequence, bag_of_words, tfidf_svd, tfidf_linear   free text (features.text)
    image                                             pixel columns -> (n, C, H, W) arrays

A competition's own blocks live in ``competition/<name>/features.py``: subclass `Block`
(unsupervised) or `SupervisedBlock` (fit/apply, run out of fold), or decorate a plain function
with `feature_block`. Every block's output is cached under the run folder, keyed by its
parameters, its input columns' content, the target and folds (supervised blocks) and its source.

Every block also leaves a state (what it learned, in JSON values and numpy arrays): `save_states`
writes a run's states to a folder and `FrozenFeatures.load(folder).transform(rows)` turns new rows
into exactly the run's model inputs (features._states).
"""

from __future__ import annotations

from features._base import Block, BlockContext, BlockOutput, SupervisedBlock, Transformed, feature_block
from features._build import (BUILTIN_BLOCKS, BlockState, FeaturePlan, FeatureSet, build_features, default_blocks,
                             plan_features)
from features._shift import separable_columns
from features._states import FrozenFeatures, save_states
from features.text import Tokenizer, pad_sequences

__all__ = [
    "BUILTIN_BLOCKS", "Block", "BlockContext", "BlockOutput", "BlockState", "FeaturePlan", "FeatureSet",
    "FrozenFeatures", "SupervisedBlock", "Tokenizer", "Transformed", "build_features", "default_blocks",
    "feature_block", "pad_sequences", "plan_features", "save_states", "separable_columns",
]
