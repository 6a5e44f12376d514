"""Import spaCy without PyTorch: spaCy's ML layer (thinc) imports torch whenever it is installed.

With the ``embeddings`` extra installed that would cost every botdesk process about 230 MB
and 2 s at start, whether or not its pipeline uses embeddings, although botdesk uses
only spaCy's tokenizer and stop words, never thinc's torch layers. So spaCy is imported
with torch hidden; torch stays importable afterwards for SentenceEmbeddingFeaturizer.
"""

from __future__ import annotations

import sys
import threading
from types import ModuleType

_LOCK = threading.Lock()


def import_spacy() -> ModuleType:
    with _LOCK:
        if "spacy" not in sys.modules and "torch" not in sys.modules:
            sys.modules["torch"] = None  # type: ignore[assignment]  # makes `import torch` fail
            try:
                import spacy
            finally:
                if "torch" in sys.modules and sys.modules["torch"] is None:
                    del sys.modules["torch"]
        import spacy

        return spacy
