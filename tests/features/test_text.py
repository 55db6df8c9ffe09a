"""Keras-style text preprocessing checked against hand-computed sequences, padding and matrices."""

from __future__ import annotations

import doctest

import numpy as np
import pandas as pd
import pytest

import features.text
from features import Tokenizer, build_features, pad_sequences
from core.tasks import TaskInfo

TEXTS = ["The cat sat on the mat.", "The dog ate my homework!", "Cat, dog; CAT?"]


def test_tokenizer_word_index_orders_by_count_then_first_seen():
    tok = Tokenizer().fit_on_texts(TEXTS)
    assert tok.word_index == {"the": 1, "cat": 2, "dog": 3, "sat": 4, "on": 5, "mat": 6, "ate": 7, "my": 8,
                              "homework": 9}
    assert tok.document_count == 3 and tok.word_docs["cat"] == 2 and tok.word_counts["cat"] == 3
    assert tok.texts_to_sequences(["the cat ate a fish"]) == [[1, 2, 7]]  # unknown words dropped


def test_oov_token_and_vocabulary_cap():
    tok = Tokenizer(num_words=5, oov_token="<OOV>").fit_on_texts(TEXTS)
    assert list(tok.word_index)[:4] == ["<OOV>", "the", "cat", "dog"]
    # kept: indices below 5 (the=2, cat=3, dog=4); 'ate' (index 8) and unknown words -> OOV (1)
    assert tok.texts_to_sequences(["the cat ate a fish", "DOG!"]) == [[2, 3, 1, 1, 1], [4]]


def test_filters_lower_and_split_options():
    tok = Tokenizer(lower=False, filters="", split=",").fit_on_texts(["a b,A b,a b"])
    assert tok.word_index == {"a b": 1, "A b": 2}


@pytest.mark.parametrize("padding,truncating,expect", [
    ("pre", "pre", [[0, 1, 2, 3], [0, 0, 4, 5], [7, 8, 9, 10]]),
    ("post", "post", [[1, 2, 3, 0], [4, 5, 0, 0], [6, 7, 8, 9]]),
    ("pre", "post", [[0, 1, 2, 3], [0, 0, 4, 5], [6, 7, 8, 9]]),
    ("post", "pre", [[1, 2, 3, 0], [4, 5, 0, 0], [7, 8, 9, 10]]),
])
def test_pad_sequences_padding_and_truncation(padding, truncating, expect):
    seqs = [[1, 2, 3], [4, 5], [6, 7, 8, 9, 10]]
    out = pad_sequences(seqs, maxlen=4, padding=padding, truncating=truncating)
    assert out.dtype == np.int32 and out.tolist() == expect


def test_pad_sequences_default_length_value_and_empty():
    out = pad_sequences([[1], [], [2, 3]], value=-1)
    assert out.tolist() == [[-1, 1], [-1, -1], [2, 3]]


def test_texts_to_matrix_modes_by_hand():
    tok = Tokenizer(num_words=4).fit_on_texts(TEXTS)  # columns 0..3: -, the, cat, dog
    doc = ["The cat sat on the mat."]  # the x2, cat x1 (sat/on/mat are beyond the cap)
    assert tok.texts_to_matrix(doc, "binary").tolist() == [[0, 1, 1, 0]]
    assert tok.texts_to_matrix(doc, "count").tolist() == [[0, 2, 1, 0]]
    np.testing.assert_allclose(tok.texts_to_matrix(doc, "freq"), [[0, 2 / 3, 1 / 3, 0]])
    idf = np.log(1 + 3 / (1 + 2))  # 3 documents, 'the' and 'cat' each in 2
    np.testing.assert_allclose(tok.texts_to_matrix(doc, "tfidf"), [[0, (1 + np.log(2)) * idf, idf, 0]])


def test_module_examples_run():
    result = doctest.testmod(features.text)
    assert result.attempted >= 4 and result.failed == 0


def _frames():
    train = pd.DataFrame({"id": [1, 2, 3], "t": TEXTS, "y": [0, 1, 0]})
    test = pd.DataFrame({"id": [4], "t": ["the dog sat"]})
    return train, test


def test_text_sequence_block_matches_tokenizer_and_padding(tmp_path):
    train, test = _frames()
    fs = build_features(train, test, id_col="id", target="y", task=TaskInfo.from_target("binary", train["y"]),
                        folds=np.array([0, 1, 0]), cache_dir=tmp_path, drop=[], log=lambda m: None,
                        blocks=[{"block": "text_sequence", "columns": ["t"], "maxlen": 5, "num_words": 6,
                                 "padding": "post", "truncating": "post"}])
    tr, te = fs.arrays["t_seq"]
    # vocabulary over train + test: the(4) cat(3) dog(3) sat(2) then on, mat, ...; OOV = 1; cap 6 keeps 1..5
    assert tr.tolist() == [[2, 3, 5, 1, 2], [2, 4, 1, 1, 1], [3, 4, 3, 0, 0]]
    assert te.tolist() == [[2, 4, 5, 0, 0]]
    assert fs.train.shape == (3, 0)


def test_bag_of_words_block_columns(tmp_path):
    train, test = _frames()
    fs = build_features(train, test, id_col="id", target="y", task=TaskInfo.from_target("binary", train["y"]),
                        folds=np.array([0, 1, 0]), cache_dir=tmp_path, drop=[], log=lambda m: None,
                        blocks=[{"block": "bag_of_words", "columns": ["t"], "max_words": 3, "mode": "count"}])
    assert list(fs.train.columns) == ["t__bow_the", "t__bow_cat", "t__bow_dog"]
    assert fs.train.to_numpy().tolist() == [[2, 1, 0], [1, 0, 1], [0, 2, 1]]
    assert fs.test.to_numpy().tolist() == [[1, 0, 1]]


def test_tfidf_linear_is_out_of_fold_and_predictive(load, tmp_path):
    from sklearn.metrics import roc_auc_score

    ds = load("fine_foods")
    fs = build_features(ds.train, ds.test, **ds.kwargs(tmp_path, [
        {"block": "tfidf_linear", "columns": ["review"], "ngram_max": 1, "max_features": 20000}]))
    y = ds.task.encode(ds.train[ds.target])
    auc = roc_auc_score(y, fs.train["review__tfidf_lr"])
    assert 0.75 < auc < 0.97  # real signal, but out-of-fold: far from the in-sample fit


def test_text_sequence_default_length_is_the_95th_percentile(tmp_path):
    lengths = list(range(1, 101))  # texts of 1..100 words
    train = pd.DataFrame({"id": range(100), "t": [" ".join(["w"] * k) for k in lengths], "y": [0, 1] * 50})
    test = pd.DataFrame({"id": [100], "t": ["w w"]})
    fs = build_features(train, test, id_col="id", target="y", task=TaskInfo.from_target("binary", train["y"]),
                        folds=np.arange(100) % 2, cache_dir=tmp_path, drop=[], log=lambda m: None,
                        blocks=[{"block": "text_sequence", "columns": ["t"]}])
    expect = int(np.percentile(lengths + [2], 95))
    assert fs.arrays["t_seq"][0].shape == (100, expect) and fs.arrays["t_seq"][1].shape == (1, expect)
