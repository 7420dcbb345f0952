"""ImageNet-1k class names (shipped offline with torchvision) and lookup by name."""

from __future__ import annotations

from functools import lru_cache


class UnknownClass(ValueError):
    """A class name or index that matches no ImageNet class (or several)."""


@lru_cache(maxsize=1)
def class_names() -> tuple[str, ...]:
    from torchvision.models import Inception_V3_Weights

    return tuple(Inception_V3_Weights.IMAGENET1K_V1.meta["categories"])


def search_classes(query: str, limit: int = 20) -> list[tuple[int, str]]:
    """Classes whose name contains ``query`` (case-insensitive); exact matches first."""
    q = query.strip().lower()
    if not q:
        return []
    names = class_names()
    if q.isdigit():
        i = int(q)
        return [(i, names[i])] if 0 <= i < len(names) else []
    exact = [(i, n) for i, n in enumerate(names) if n.lower() == q]
    starts = [(i, n) for i, n in enumerate(names) if n.lower().startswith(q) and (i, n) not in exact]
    contains = [(i, n) for i, n in enumerate(names) if q in n.lower() and not n.lower().startswith(q)]
    return (exact + starts + contains)[:limit]


def resolve_class(query: str | int) -> int:
    """One class index from an index or a name; ambiguity is an error that lists matches."""
    if isinstance(query, int):
        if not 0 <= query < len(class_names()):
            raise UnknownClass(f"class index {query} is outside 0..{len(class_names()) - 1}")
        return query
    matches = search_classes(query, limit=1000)
    if not matches:
        raise UnknownClass(f"no ImageNet class matches {query!r}")
    if len(matches) > 1 and matches[0][1].lower() != query.strip().lower():
        shown = ", ".join(f"{i} {n}" for i, n in matches[:8])
        raise UnknownClass(f"{query!r} matches {len(matches)} classes ({shown}...); be more specific or give the index")
    return matches[0][0]
