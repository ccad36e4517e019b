"""Where a searcher reads a build: the seam (:class:`~embed.backends.base.IndexBackend`), the local
FAISS backend, the Milvus backend and its publication, and the factory that picks one by name."""
