"""The peer's side of ``bench/peer.py``: txtai indexes a corpus and serves it with its own API.

Runs under the peer's venv (txtai and torch), never xlsearch's:

    .venv-peer/bin/python bench/_peer_txtai.py --corpus C.json --index DIR --model DIR --port P

The index is multilingual-e5-small through sentence-transformers with e5's prompts, over FAISS
``IDMap,Flat``, dense only; it is built once into ``--index`` and loaded from there.
"""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", type=Path, required=True, help="JSON object: id -> text.")
    parser.add_argument("--index", type=Path, required=True)
    parser.add_argument("--model", type=Path, required=True)
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args()

    if not (args.index / "config.json").is_file():
        from txtai import Embeddings

        embeddings = Embeddings(
            path=str(args.model),
            method="sentence-transformers",
            backend="faiss",
            faiss={"components": "IDMap,Flat"},
            instructions={"query": "query: ", "data": "passage: "},
            content=False,
        )
        corpus = json.loads(args.corpus.read_text(encoding="utf-8"))
        embeddings.index(list(corpus.items()))
        embeddings.save(str(args.index))

    config = args.index.parent / "api.yml"
    # The embeddings key turns the API's search routes on; path loads the index read-only.
    config.write_text(f"path: {args.index}\nembeddings: {{}}\n", encoding="utf-8")
    os.environ["CONFIG"] = str(config)
    import uvicorn

    uvicorn.run("txtai.api:app", host="127.0.0.1", port=args.port, log_level="warning")


if __name__ == "__main__":
    main()
