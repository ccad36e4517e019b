"""Publishing the local build to a clustered backend (``rebuild-index --backend milvus``).

Every build is made locally first (the ``vectors/`` folder is the staging area and the source
of incremental reuse), then written to Milvus with the global statistics the ranking needs, so
that readers never compute them over the corpus.
"""

from __future__ import annotations

from embed.backends.local import LocalIndex
from embed.backends.milvus_store import Publication, connect, publish_build
from embed.ranking.centering import LanguageCorrection
from embed.settings import EmbedSettings, milvus_token
from embed.store.builds import load_index


def publish_to_milvus(settings: EmbedSettings) -> Publication:
    """Publish the live build of ``settings.vectors_dir`` under ``settings.milvus_collection``:
    only the rows Milvus lacks are sent (see :func:`~embed.backends.milvus_store.publish_build`).

    Returns:
        Whether readers were switched to it (not when Milvus served it already), and how many
        rows were written and deleted.

    Raises:
        StoreError: When there is no local build, or Milvus cannot be reached or written.
    """
    data = load_index(settings.vectors_dir)
    correction = LanguageCorrection.of(LocalIndex(data))
    client = connect(settings.milvus_uri, milvus_token(settings))
    statistics = correction.to_arrays() if correction is not None else {}
    return publish_build(
        data, statistics, client, settings.milvus_collection, settle=settings.milvus_settle
    )
