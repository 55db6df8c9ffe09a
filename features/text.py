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

from features._base import Block, BlockContext, BlockOutput, SupervisedBlock, Transformed

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


def _tokenizer(p: dict, num_words: int | None, oov_token: str | None = None) -> Tokenizer:
    return Tokenizer(num_words=num_words, filters=p["filters"], lower=p["lower"], split=p["split"], oov_token=oov_token)


def _frozen(tok: Tokenizer, words: list[str]) -> Tokenizer:
    """`tok` with a frozen vocabulary: `words` get indices 1, 2, ... (no fitting)."""
    tok.word_index = {w: i for i, w in enumerate(words, start=1)}
    tok.index_word = dict(enumerate(words, start=1))
    return tok


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

    def _fit(self, train, test) -> tuple[dict, dict]:
        """(state, {column: (train sequences, test sequences)}): one tokenizer pass over the texts."""
        p = self.p
        words, maxlens, seqs = {}, {}, {}
        for c in self.columns:
            tok = _tokenizer(p, p["num_words"], p["oov_token"] or None)
            tr, te = _texts(train[c]), _texts(test[c])
            tok.fit_on_texts(tr + te)
            seqs[c] = [tok.texts_to_sequences(t) for t in (tr, te)]
            vocab = list(tok.word_index)
            words[c] = vocab[: p["num_words"] - 1] if p["num_words"] else vocab  # indices from num_words are OOV
            maxlens[c] = p["maxlen"] or max(1, int(np.percentile([len(s) for part in seqs[c] for s in part], 95)))
        return {"words": words, "maxlen": maxlens}, seqs

    def fit_state(self, train, test, ctx: BlockContext) -> dict:
        """{"words": {column: the vocabulary in index order, up to num_words}, "maxlen": {column: length}}."""
        return self._fit(train, test)[0]

    def build(self, train, test, ctx: BlockContext) -> BlockOutput:
        """Tokenizer fitted on train + test texts, padded sequences of each part, the state attached."""
        state, seqs = self._fit(train, test)
        arrays = {f"{c}_seq": tuple(self._padded(state, c, s) for s in seqs[c]) for c in self.columns}
        return BlockOutput(*_empty(len(train), len(test)), arrays=arrays, state=state)

    def transform(self, state: dict, X) -> Transformed:
        """Padded sequences of rows X from the frozen vocabulary and length."""
        p = self.p
        arrays = {}
        for c in self.columns:
            tok = _frozen(_tokenizer(p, p["num_words"], p["oov_token"] or None), state["words"][c])
            arrays[f"{c}_seq"] = self._padded(state, c, tok.texts_to_sequences(_texts(X[c])))
        return Transformed(_empty(len(X), 0)[0], arrays)

    def _padded(self, state: dict, column: str, seqs: list[list[int]]) -> np.ndarray:
        return pad_sequences(seqs, maxlen=state["maxlen"][column], padding=self.p["padding"],
                             truncating=self.p["truncating"])


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

    def fit_state(self, train, test, ctx: BlockContext) -> dict:
        """{"words": {column: the `max_words` most frequent words}, "docs": {column: texts holding each},
        "documents": {column: texts counted}} over train and test texts."""
        words, docs, documents = {}, {}, {}
        for c in self.columns:
            tok = _tokenizer(self.p, self.p["max_words"] + 1).fit_on_texts(_texts(train[c]) + _texts(test[c]))
            width = min(self.p["max_words"] + 1, len(tok.word_index) + 1)
            words[c] = [tok.index_word[j] for j in range(1, width)]
            docs[c] = [tok.index_docs.get(j, 0) for j in range(1, width)]
            documents[c] = tok.document_count
        return {"words": words, "docs": docs, "documents": documents}

    def transform(self, state: dict, X) -> Transformed:
        """Bag-of-words columns of rows X from the frozen words and document counts."""
        import pandas as pd

        from features._base import safe_name

        out = {}
        for c in self.columns:
            words = state["words"][c]
            tok = _frozen(_tokenizer(self.p, self.p["max_words"] + 1), words)
            tok.index_docs = dict(enumerate(state["docs"][c], start=1))
            tok.document_count = state["documents"][c]
            mat = tok.texts_to_matrix(_texts(X[c]), mode=self.p["mode"])[:, 1:len(words) + 1].astype(np.float32)
            out.update({f"{c}__bow_{safe_name(w)}": mat[:, i] for i, w in enumerate(words)})
        if not out:
            return Transformed(_empty(len(X), 0)[0])
        return Transformed(pd.DataFrame(out, index=pd.RangeIndex(len(X))))


_TFIDF_PARAMS = {
    "ngram_max": (int, 2, "longest word n-gram"),
    "min_df": (int, 2, "documents a term must appear in"),
    "max_features": (int, 200000, "vocabulary cap"),
}


def _vectorizer(p: dict):
    from sklearn.feature_extraction.text import TfidfVectorizer

    return TfidfVectorizer(ngram_range=(1, p["ngram_max"]), min_df=p["min_df"], max_features=p["max_features"],
                           sublinear_tf=True, dtype=np.float32)


def _tfidf_fit(p: dict, texts: list[str]) -> tuple[dict | None, Any]:
    """(state, TF-IDF matrix of `texts`) from a vectorizer fitted on them; (None, None) for an empty
    vocabulary. The state -- {"terms", "idf", "rank"} -- lets `_tfidf_rows` give new texts exactly
    their rows of this matrix: scikit-learn's fit_transform stores each row's terms in the order the
    terms first occur in the fitted texts (`rank`), and the row sums follow that order."""
    vec = _vectorizer(p)
    try:
        mat = vec.fit_transform(texts).tocsr()
    except ValueError:  # empty vocabulary
        return None, None
    first = np.full(mat.shape[1], mat.nnz, dtype=np.int64)
    cols, at = np.unique(mat.indices, return_index=True)
    first[cols] = at
    rank = np.empty(mat.shape[1], dtype=np.int64)
    rank[np.argsort(first, kind="stable")] = np.arange(mat.shape[1])
    return {"terms": vec.get_feature_names_out().tolist(), "idf": np.asarray(vec.idf_), "rank": rank}, mat


def _tfidf_rows(p: dict, state: dict, texts: list[str]):
    """The TF-IDF rows of `texts` from a frozen `_tfidf_fit` state (CSR, float32): counts of the frozen
    terms, each row's terms in `rank` order, then sublinear tf, idf and L2 norm as scikit-learn does."""
    import scipy.sparse as sp
    from sklearn.feature_extraction.text import CountVectorizer
    from sklearn.preprocessing import normalize

    terms = state["terms"]
    counts = CountVectorizer(ngram_range=(1, p["ngram_max"]), vocabulary={t: i for i, t in enumerate(terms)},
                             dtype=np.float32).transform(texts).tocsr()
    rows = np.repeat(np.arange(counts.shape[0]), np.diff(counts.indptr))
    order = np.lexsort((np.asarray(state["rank"])[counts.indices], rows))
    mat = sp.csr_matrix((counts.data[order], counts.indices[order], counts.indptr), shape=counts.shape)
    np.log(mat.data, mat.data)
    mat.data += 1.0
    mat.data *= np.asarray(state["idf"])[mat.indices]
    return normalize(mat, norm="l2", copy=False) if mat.shape[0] else mat


class TfidfSVD(Block):
    """scikit-learn TF-IDF (sublinear tf, word n-grams) reduced by TruncatedSVD: ``{c}__svd_{i}``.

    Fitted on train and test texts. Example: ``{block = "tfidf_svd", columns = ["review"], n_components = 32}``.
    """

    name = "tfidf_svd"
    accepts = ("text", "categorical")
    default_kinds = ("text",)
    params = {"n_components": (int, 32, "SVD components kept"), **_TFIDF_PARAMS}
    minimum = {"n_components": 1, "ngram_max": 1, "min_df": 1, "max_features": 1}

    def _fit(self, train, test, ctx: BlockContext) -> tuple[dict, Any]:
        """(state, train + test output frame): {"tfidf": {column: `_tfidf_fit` state or None (no
        vocabulary)}, "components": {column: the SVD's components_}}."""
        import pandas as pd
        from sklearn.decomposition import TruncatedSVD

        out, tfidf, components = {}, {}, {}
        for c in self.columns:
            tfidf[c], mat = _tfidf_fit(self.p, _texts(train[c]) + _texts(test[c]))
            if mat is None:
                continue
            k = max(1, min(self.p["n_components"], mat.shape[1] - 1, mat.shape[0] - 1))
            svd = TruncatedSVD(k, random_state=ctx.seed)
            comps = svd.fit_transform(mat).astype(np.float32)
            components[c] = svd.components_
            out.update({f"{c}__svd_{i}": comps[:, i] for i in range(k)})
        return {"tfidf": tfidf, "components": components}, pd.DataFrame(out)

    def fit_state(self, train, test, ctx: BlockContext) -> dict:
        """The TF-IDF vocabularies, idf weights and SVD components fitted on train and test texts."""
        return self._fit(train, test, ctx)[0]

    def build(self, train, test, ctx: BlockContext) -> BlockOutput:
        """TF-IDF + SVD over train and test texts in one pass, the state attached."""
        n = len(train)
        state, frame = self._fit(train, test, ctx)
        if not frame.shape[1]:
            return BlockOutput(*_empty(n, len(test)), state=state)
        return BlockOutput(frame.iloc[:n].reset_index(drop=True), frame.iloc[n:].reset_index(drop=True), state=state)

    def transform(self, state: dict, X) -> Transformed:
        """The frozen TF-IDF rows times the frozen components: X @ components_.T, as TruncatedSVD does."""
        import pandas as pd

        out = {}
        for c in self.columns:
            if state["tfidf"][c] is None:
                continue
            comps = np.asarray(_tfidf_rows(self.p, state["tfidf"][c], _texts(X[c])) @ state["components"][c].T,
                               dtype=np.float32)
            out.update({f"{c}__svd_{i}": comps[:, i] for i in range(comps.shape[1])})
        return Transformed(pd.DataFrame(out, index=pd.RangeIndex(len(X))) if out else _empty(len(X), 0)[0])


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

    def _prepared(self, train, test, ctx: BlockContext) -> tuple[dict, dict, dict]:
        """One TF-IDF fit over train and test texts: its state and the rows it gives each part."""
        state, X_train, X_test = {}, {}, {}
        for c in self.columns:
            tr, te = _texts(train[c]), _texts(test[c])
            state[c], mat = _tfidf_fit(self.p, tr + te)  # empty vocabulary: predict the prior
            X_train[c] = mat[: len(tr)] if mat is not None else np.zeros((len(tr), 0))
            X_test[c] = mat[len(tr):] if mat is not None else np.zeros((len(te), 0))
        return {"tfidf": state}, X_train, X_test

    def fit_prepare(self, train, test, ctx: BlockContext) -> dict:
        """{"tfidf": {column: the TF-IDF state fitted on train and test texts, or None}}."""
        return self._prepared(train, test, ctx)[0]

    def prepare_rows(self, state: dict, X) -> dict:
        """The TF-IDF rows of X from the frozen vocabularies (no columns for a column without one)."""
        out = {}
        for c in self.columns:
            tfidf = state["tfidf"][c]
            out[c] = np.zeros((len(X), 0)) if tfidf is None else _tfidf_rows(self.p, tfidf, _texts(X[c]))
        return out

    def fit(self, X: dict, y: np.ndarray, ctx: BlockContext) -> dict:
        """{"models": {column: {"coef", "intercept", "classes"} or None (the prior)}, "prior", "task"}:
        the fitted models' arrays, so the state needs no pickle."""
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
                continue
            if not task.is_classification:
                model = Ridge(alpha=1.0 / self.p["C"]).fit(mat, y)
            else:
                # saga on L2-normalised TF-IDF: lbfgs's AUC at a fraction of the time on large sparse data;
                # a feature needs no tighter tolerance, and an unconverged fit is still a valid feature
                model = LogisticRegression(C=self.p["C"], solver="saga", tol=1e-3, max_iter=100,
                                           random_state=ctx.seed)
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore", ConvergenceWarning)
                    model.fit(mat, y)
            models[c] = {"coef": model.coef_, "intercept": np.asarray(model.intercept_),
                         **({"classes": model.classes_} if task.is_classification else {})}
        return {"models": models, "prior": prior,
                "task": {"task": task.task, "classes": [str(c) for c in task.classes]}}

    def apply(self, state: dict, X: dict):
        """Predictions for rows X from the models rebuilt from their arrays (the prior without a model)."""
        import pandas as pd
        from sklearn.linear_model import LogisticRegression, Ridge

        from core.tasks import TaskInfo
        from features._base import safe_name

        task = TaskInfo(state["task"]["task"], tuple(state["task"]["classes"]))
        out = {}
        for c in self.columns:
            arrays, n = state["models"][c], X[c].shape[0]
            if arrays is None or n == 0:
                pred = np.tile(np.asarray(state["prior"]), (n, 1))
            else:  # the fitted model rebuilt from its arrays: the same predict code on the same numbers
                model = LogisticRegression(C=self.p["C"], solver="saga") if task.is_classification \
                    else Ridge(alpha=1.0 / self.p["C"])
                model.coef_, model.intercept_ = np.asarray(arrays["coef"]), np.asarray(arrays["intercept"])
                model.n_features_in_ = model.coef_.shape[-1]
                if task.is_classification:
                    model.classes_ = np.asarray(arrays["classes"])
                    pred = task.class_matrix(model.predict_proba(X[c]), model.classes_)
                else:
                    pred = model.predict(X[c]).reshape(-1, 1)
            if task.n_outputs > 1:
                for j, label in enumerate(task.prediction_columns()):
                    out[f"{c}__tfidf_lr_{safe_name(label)}"] = pred[:, j].astype(np.float32)
            else:
                out[f"{c}__tfidf_lr"] = pred[:, -1].astype(np.float32)
        return pd.DataFrame(out)
