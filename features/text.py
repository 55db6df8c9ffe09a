"""Text preprocessing in the style of Keras, plus text feature blocks.

`Tokenizer` (lower-casing, character filters, split; vocabulary ordered by frequency with a size
cap and an OOV token), `pad_sequences` (pre/post padding and truncation) and
`Tokenizer.texts_to_matrix` (binary, count, freq, tfidf bag of words) reproduce
`keras.preprocessing.text` / `keras.preprocessing.sequence` without TensorFlow::

    >>> tok = Tokenizer(num_words=4, oov_token="<OOV>").fit_on_texts(["The cat sat.", "The dog sat down!"])
    >>> tok.word_index
    {'<OOV>': 1, 'the': 2, 'sat': 3, 'cat': 4, 'dog': 5, 'down': 6}
    >>> tok.texts_to_sequences(["the cat ran"])
    [[2, 1, 1]]
    >>> pad_sequences([[2, 1, 1]], maxlen=5).tolist()
    [[0, 0, 2, 1, 1]]

Blocks: `text_sequence` (padded integer sequences for sequence models, an array input),
`bag_of_words` (texts_to_matrix columns), `tfidf_svd` (scikit-learn TF-IDF reduced by
TruncatedSVD) and `tfidf_linear` (out-of-fold TF-IDF + linear model predictions).
"""

from __future__ import annotations

import warnings
from collections import OrderedDict, defaultdict
from typing import Any, Iterable

import numpy as np

from features._base import Block, BlockContext, BlockOutput, SupervisedBlock

DEFAULT_FILTERS = '!"#$%&()*+,-./:;<=>?@[\\]^_`{|}~\t\n'
MATRIX_MODES = ("binary", "count", "freq", "tfidf")


def text_to_word_sequence(text: str, filters: str = DEFAULT_FILTERS, lower: bool = True,
                          split: str = " ") -> list[str]:
    """Lower-case, replace every filter character by `split`, split, drop empty tokens."""
    if lower:
        text = text.lower()
    text = text.translate(str.maketrans({c: split for c in filters}))
    return [t for t in text.split(split) if t]


class Tokenizer:
    """Keras-style tokenizer: word index by descending frequency (ties: first seen), 1-based.

    `num_words` keeps only indices below it when converting (rarer words -> the OOV index if
    `oov_token` is set, else dropped); the OOV token, when given, is index 1.
    """

    def __init__(self, num_words: int | None = None, filters: str = DEFAULT_FILTERS, lower: bool = True,
                 split: str = " ", oov_token: str | None = None):
        self.num_words = num_words
        self.filters = filters
        self.lower = lower
        self.split = split
        self.oov_token = oov_token
        self.word_counts: OrderedDict[str, int] = OrderedDict()
        self.word_docs: defaultdict[str, int] = defaultdict(int)
        self.document_count = 0
        self.word_index: dict[str, int] = {}
        self.index_word: dict[int, str] = {}
        self.index_docs: dict[int, int] = {}

    def _words(self, text: str) -> list[str]:
        return text_to_word_sequence(text, self.filters, self.lower, self.split)

    def fit_on_texts(self, texts: Iterable[str]) -> "Tokenizer":
        """Count words and documents; rebuild the word index."""
        for text in texts:
            self.document_count += 1
            seq = self._words(text)
            for w in seq:
                self.word_counts[w] = self.word_counts.get(w, 0) + 1
            for w in set(seq):
                self.word_docs[w] += 1
        ranked = sorted(self.word_counts.items(), key=lambda kv: kv[1], reverse=True)  # stable on ties
        vocab = ([self.oov_token] if self.oov_token is not None else []) + [w for w, _ in ranked]
        self.word_index = {w: i for i, w in enumerate(vocab, start=1)}
        self.index_word = {i: w for w, i in self.word_index.items()}
        self.index_docs = {self.word_index[w]: c for w, c in self.word_docs.items()}
        return self

    def texts_to_sequences(self, texts: Iterable[str]) -> list[list[int]]:
        """Each text as a list of word indices (see the class docstring for capping and OOV)."""
        oov = self.word_index.get(self.oov_token) if self.oov_token is not None else None
        cap = self.num_words
        out = []
        for text in texts:
            seq = []
            for w in self._words(text):
                i = self.word_index.get(w)
                if i is not None and not (cap and i >= cap):
                    seq.append(i)
                elif oov is not None:
                    seq.append(oov)
            out.append(seq)
        return out

    def sequences_to_matrix(self, sequences: list[list[int]], mode: str = "binary") -> np.ndarray:
        """(n, num_words) matrix: binary presence, count, freq (count / length) or Keras tf-idf."""
        if mode not in MATRIX_MODES:
            raise ValueError(f"mode must be one of {MATRIX_MODES}, got {mode!r}")
        width = self.num_words or len(self.word_index) + 1
        x = np.zeros((len(sequences), width))
        for row, seq in enumerate(sequences):
            if not seq:
                continue
            counts: dict[int, int] = defaultdict(int)
            for j in seq:
                if j < width:
                    counts[j] += 1
            for j, c in counts.items():
                if mode == "count":
                    x[row, j] = c
                elif mode == "freq":
                    x[row, j] = c / len(seq)
                elif mode == "binary":
                    x[row, j] = 1
                else:
                    idf = np.log(1 + self.document_count / (1 + self.index_docs.get(j, 0)))
                    x[row, j] = (1 + np.log(c)) * idf
        return x

    def texts_to_matrix(self, texts: Iterable[str], mode: str = "binary") -> np.ndarray:
        """Bag of words for `texts` (see `sequences_to_matrix`)."""
        return self.sequences_to_matrix(self.texts_to_sequences(texts), mode=mode)


def pad_sequences(sequences: list[list[int]], maxlen: int | None = None, dtype: Any = "int32",
                  padding: str = "pre", truncating: str = "pre", value: float = 0) -> np.ndarray:
    """(n, maxlen) array: sequences cut to `maxlen` (from the start with 'pre', the end with
    'post') and padded with `value` before ('pre') or after ('post') them."""
    if padding not in ("pre", "post") or truncating not in ("pre", "post"):
        raise ValueError(f"padding and truncating must be 'pre' or 'post', got {padding!r}, {truncating!r}")
    if maxlen is None:
        maxlen = max((len(s) for s in sequences), default=0)
    x = np.full((len(sequences), maxlen), value, dtype=dtype)
    for row, seq in enumerate(sequences):
        if not len(seq) or maxlen == 0:
            continue
        trunc = seq[-maxlen:] if truncating == "pre" else seq[:maxlen]
        if padding == "post":
            x[row, : len(trunc)] = trunc
        else:
            x[row, -len(trunc):] = trunc
    return x


def _texts(series) -> list[str]:
    return series.astype("str").fillna("").tolist()


def _empty(n_train: int, n_test: int) -> tuple:
    import pandas as pd

    return pd.DataFrame(index=range(n_train)), pd.DataFrame(index=range(n_test))


_TOKENIZER_PARAMS = {
    "lower": (bool, True, "lower-case before splitting"),
    "filters": (str, DEFAULT_FILTERS, "characters replaced by the split character"),
    "split": (str, " ", "token separator"),
}


class TextSequence(Block):
    """Padded integer word sequences for sequence models: array ``{c}_seq`` of shape (n, maxlen).

    The tokenizer is fitted on train and test texts; index 0 is padding, 1 the OOV token.
    `maxlen = 0` uses the 95th percentile of the texts' token counts (at least 1).
    Example: ``{block = "text_sequence", columns = ["review"], num_words = 20000, maxlen = 200}``.
    """

    name = "text_sequence"
    accepts = ("text", "categorical")
    default_kinds = ("text",)
    params = {"num_words": (int, 20000, "vocabulary cap (indices below it are kept)"),
              "maxlen": (int, 0, "sequence length after padding/truncation; 0 = 95th percentile"),
              "oov_token": (str, "<OOV>", "token for words outside the vocabulary ('' = drop them)"),
              "padding": (str, "pre", "pre | post"), "truncating": (str, "pre", "pre | post"),
              **_TOKENIZER_PARAMS}
    choices = {"padding": ("pre", "post"), "truncating": ("pre", "post")}
    minimum = {"num_words": 0, "maxlen": 0}

    def build(self, train, test, ctx: BlockContext) -> BlockOutput:
        p = self.p
        arrays = {}
        for c in self.columns:
            tok = Tokenizer(num_words=p["num_words"], filters=p["filters"], lower=p["lower"], split=p["split"],
                            oov_token=p["oov_token"] or None)
            tr, te = _texts(train[c]), _texts(test[c])
            tok.fit_on_texts(tr + te)
            seqs = [tok.texts_to_sequences(t) for t in (tr, te)]
            maxlen = p["maxlen"] or max(1, int(np.percentile([len(s) for part in seqs for s in part], 95)))
            arrays[f"{c}_seq"] = tuple(pad_sequences(s, maxlen=maxlen, padding=p["padding"],
                                                     truncating=p["truncating"]) for s in seqs)
        return BlockOutput(*_empty(len(train), len(test)), arrays=arrays)


class BagOfWords(Block):
    """`texts_to_matrix` columns for the `max_words` most frequent words: ``{c}__bow_{word}``.

    Example: ``{block = "bag_of_words", columns = ["review"], max_words = 100, mode = "tfidf"}``.
    """

    name = "bag_of_words"
    accepts = ("text", "categorical")
    default_kinds = ("text",)
    params = {"max_words": (int, 100, "most frequent words kept"),
              "mode": (str, "binary", "binary | count | freq | tfidf"), **_TOKENIZER_PARAMS}
    choices = {"mode": MATRIX_MODES}
    minimum = {"max_words": 1}

    def build(self, train, test, ctx: BlockContext) -> BlockOutput:
        import pandas as pd

        from features._categorical import safe_name

        p = self.p
        out_tr, out_te = {}, {}
        for c in self.columns:
            tok = Tokenizer(num_words=p["max_words"] + 1, filters=p["filters"], lower=p["lower"], split=p["split"])
            tr, te = _texts(train[c]), _texts(test[c])
            tok.fit_on_texts(tr + te)
            width = min(p["max_words"] + 1, len(tok.word_index) + 1)
            names = [f"{c}__bow_{safe_name(tok.index_word[j])}" for j in range(1, width)]
            for texts, dest in ((tr, out_tr), (te, out_te)):
                mat = tok.texts_to_matrix(texts, mode=p["mode"])[:, 1:width].astype(np.float32)
                dest.update({n: mat[:, i] for i, n in enumerate(names)})
        if not out_tr:
            return BlockOutput(*_empty(len(train), len(test)))
        return BlockOutput(pd.DataFrame(out_tr), pd.DataFrame(out_te))


_TFIDF_PARAMS = {
    "ngram_max": (int, 2, "longest word n-gram"),
    "min_df": (int, 2, "documents a term must appear in"),
    "max_features": (int, 200000, "vocabulary cap"),
}


def _vectorizer(p: dict):
    from sklearn.feature_extraction.text import TfidfVectorizer

    return TfidfVectorizer(ngram_range=(1, p["ngram_max"]), min_df=p["min_df"], max_features=p["max_features"],
                           sublinear_tf=True, dtype=np.float32)


class TfidfSVD(Block):
    """scikit-learn TF-IDF (sublinear tf, word n-grams) reduced by TruncatedSVD: ``{c}__svd_{i}``.

    Fitted on train and test texts. Example: ``{block = "tfidf_svd", columns = ["review"], n_components = 32}``.
    """

    name = "tfidf_svd"
    accepts = ("text", "categorical")
    default_kinds = ("text",)
    params = {"n_components": (int, 32, "SVD components kept"), **_TFIDF_PARAMS}
    minimum = {"n_components": 1, "ngram_max": 1, "min_df": 1, "max_features": 1}

    def build(self, train, test, ctx: BlockContext) -> BlockOutput:
        import pandas as pd
        from sklearn.decomposition import TruncatedSVD

        out = {}
        n = len(train)
        for c in self.columns:
            texts = _texts(train[c]) + _texts(test[c])
            try:
                mat = _vectorizer(self.p).fit_transform(texts)
            except ValueError:  # empty vocabulary
                continue
            k = max(1, min(self.p["n_components"], mat.shape[1] - 1, mat.shape[0] - 1))
            comps = TruncatedSVD(k, random_state=ctx.seed).fit_transform(mat).astype(np.float32)
            out.update({f"{c}__svd_{i}": comps[:, i] for i in range(k)})
        if not out:
            return BlockOutput(*_empty(n, len(test)))
        frame = pd.DataFrame(out)
        return BlockOutput(frame.iloc[:n].reset_index(drop=True), frame.iloc[n:].reset_index(drop=True))


class TfidfLinear(SupervisedBlock):
    """Out-of-fold predictions of TF-IDF + a linear model: ``{c}__tfidf_lr`` (per class for multiclass).

    Logistic regression for classification (P(positive) for binary), ridge for regression. The
    TF-IDF vocabulary is fitted once on train and test texts (no target); the linear model is
    fitted out of fold. Example: ``{block = "tfidf_linear", columns = ["review"], C = 4.0}``.
    """

    name = "tfidf_linear"
    accepts = ("text", "categorical")
    default_kinds = ("text",)
    params = {"C": (float, 4.0, "inverse regularisation (logistic) / 1 / alpha (ridge)"), **_TFIDF_PARAMS}
    minimum = {"C": 1e-9, "ngram_max": 1, "min_df": 1, "max_features": 1}

    def prepare(self, train, test, ctx: BlockContext) -> tuple[dict, dict]:
        X_train, X_test = {}, {}
        for c in self.columns:
            tr, te = _texts(train[c]), _texts(test[c])
            try:
                mat = _vectorizer(self.p).fit_transform(tr + te).tocsr()
            except ValueError:  # empty vocabulary: predict the prior
                mat = None
            X_train[c] = mat[: len(tr)] if mat is not None else np.zeros((len(tr), 0))
            X_test[c] = mat[len(tr):] if mat is not None else np.zeros((len(te), 0))
        return X_train, X_test

    def fit(self, X: dict, y: np.ndarray, ctx: BlockContext) -> dict:
        from sklearn.exceptions import ConvergenceWarning
        from sklearn.linear_model import LogisticRegression, Ridge

        task = ctx.task
        prior = (np.bincount(y.astype(int), minlength=task.n_classes) / len(y) if task.is_classification
                 else np.array([y.mean()]))
        models = {}
        for c in self.columns:
            mat = X[c]
            if mat.shape[1] == 0 or (task.is_classification and len(np.unique(y)) < 2):
                models[c] = None
            elif not task.is_classification:
                models[c] = Ridge(alpha=1.0 / self.p["C"]).fit(mat, y)
            else:
                # saga on L2-normalised TF-IDF: lbfgs's AUC at a fraction of the time on large sparse data;
                # a feature needs no tighter tolerance, and an unconverged fit is still a valid feature
                model = LogisticRegression(C=self.p["C"], solver="saga", tol=1e-3, max_iter=100,
                                           random_state=ctx.seed)
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore", ConvergenceWarning)
                    models[c] = model.fit(mat, y)
        return {"models": models, "prior": prior, "task": task}

    def apply(self, state: dict, X: dict):
        import pandas as pd

        from features._categorical import safe_name

        task = state["task"]
        out = {}
        for c in self.columns:
            model, n = state["models"][c], X[c].shape[0]
            if model is None:
                pred = np.tile(state["prior"], (n, 1))
            elif not task.is_classification:
                pred = model.predict(X[c]).reshape(-1, 1)
            else:
                pred = task.class_matrix(model.predict_proba(X[c]), model.classes_)
            if task.n_outputs > 1:
                for j, label in enumerate(task.prediction_columns()):
                    out[f"{c}__tfidf_lr_{safe_name(label)}"] = pred[:, j].astype(np.float32)
            else:
                out[f"{c}__tfidf_lr"] = pred[:, -1].astype(np.float32)
        return pd.DataFrame(out)
