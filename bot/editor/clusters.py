"""Group inbox messages that say the same thing, biggest groups first.

Character n-grams (2 to 4, inside word boundaries) with TF-IDF weights are robust to
typos and Russian word endings; average-linkage agglomerative clustering over cosine
distance then joins messages whose groups are, on average, at least ``similarity``
alike. No randomness anywhere: the same messages always give the same groups.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Group:
    """Indexes into the clustered texts; ``label`` is the member most like the others."""

    members: list[int]
    label: int


def _normalise(text: str) -> str:
    return " ".join(text.lower().replace("ё", "е").split())


def cluster(texts: Sequence[str], similarity: float = 0.45) -> list[Group]:
    """Groups of ``texts`` (by index), biggest first; ties keep the order of first appearance."""
    if not texts:
        return []
    if len(texts) == 1:
        return [Group([0], 0)]
    # Imported here: scikit-learn takes a second to import, and `botdesk run` never clusters at start.
    from sklearn.cluster import AgglomerativeClustering
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.metrics.pairwise import cosine_similarity

    normalised = [_normalise(t) or "_" for t in texts]
    vectors = TfidfVectorizer(analyzer="char_wb", ngram_range=(2, 4), sublinear_tf=True).fit_transform(
        normalised
    )
    model = AgglomerativeClustering(
        n_clusters=None, metric="cosine", linkage="average", distance_threshold=1.0 - similarity
    )
    labels = model.fit_predict(vectors.toarray())
    members: dict[int, list[int]] = {}
    for index, label in enumerate(labels.tolist()):
        members.setdefault(label, []).append(index)
    groups = []
    for indexes in members.values():
        if len(indexes) == 1:
            groups.append(Group(indexes, indexes[0]))
            continue
        inner = cosine_similarity(vectors[indexes])
        central = indexes[int(np.argmax(inner.sum(axis=1)))]
        groups.append(Group(indexes, central))
    groups.sort(key=lambda g: (-len(g.members), g.members[0]))
    return groups
