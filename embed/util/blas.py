"""Per-call limits on numpy's BLAS threads (``threadpoolctl``).

Query-time products are too small to split, and BLAS threads left spinning after one take the
cores that ONNX Runtime's threads need for the next query (what that cost: docs/decisions.md).
"""

from __future__ import annotations

from contextlib import AbstractContextManager
from functools import cache
from typing import Any


@cache
def _controller() -> Any:
    # faiss and scipy (which sentence-transformers imports) carry OpenBLAS builds of their own:
    # the controller only limits the libraries loaded before it is made.
    import faiss  # noqa: F401
    import scipy.linalg  # noqa: F401
    from threadpoolctl import ThreadpoolController

    # Discovering the BLAS libraries is the slow part; done once, each call only sets the limit.
    return ThreadpoolController()


def blas_threads(threads: int) -> AbstractContextManager[Any]:
    """A context in which numpy's BLAS uses at most ``threads`` threads."""
    limit: AbstractContextManager[Any] = _controller().limit(limits=threads, user_api="blas")
    return limit
