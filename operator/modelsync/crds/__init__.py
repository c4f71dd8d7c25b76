"""The CustomResourceDefinitions the operator serves, carried as package data so that every
install has them. The files here are copies of the repository's crds/, which is the one
place to edit them; a test fails when the copies differ.
"""

from __future__ import annotations

from importlib import resources
from typing import Any

import yaml

__all__ = ["CRD_FILES", "crd_documents"]

CRD_FILES: tuple[str, ...] = ("modelcatalogsyncs.yaml", "modelrefs.yaml")


def crd_documents() -> list[dict[str, Any]]:
    """Every CustomResourceDefinition in CRD_FILES, in that order."""
    package = resources.files(__name__)
    documents: list[dict[str, Any]] = []
    for name in CRD_FILES:
        text = package.joinpath(name).read_text(encoding="utf-8")
        for doc in yaml.safe_load_all(text):
            if isinstance(doc, dict) and doc.get("kind") == "CustomResourceDefinition":
                documents.append(doc)
    return documents
