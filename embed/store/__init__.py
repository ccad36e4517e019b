"""What a build is made of on disk: the typed manifest and versions, build folders, token states,
the FAISS and BM25 structures."""
