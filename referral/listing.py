"""Lists on pages that scale: one page of rows at a time with a count of the
whole, sorted by a column the reader picks, the sort, the page and the
filters kept in the URL.

    listing = page_of(session, query, sorts=SORTS, default="-date", tiebreak=Lead.id)

`query` is a select() (its own ORDER BY is replaced); `sorts` names the columns a reader
may sort by ("date", "value", "status", "partner"...). `?sort=value` sorts
ascending, `?sort=-value` descending; an unknown key is ignored (the default
sort applies), and a page past the end is the last page. Two statements per
page, however many rows there are: the count and the page (the API's
`restapi.paginate` does the same for JSON)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from flask import request, url_for
from sqlalchemy import func, select
from sqlmodel import Session

PER_PAGE = 50


@dataclass(frozen=True)
class ListPage:
    """One page of a list, and how to reach the others."""

    items: list[Any]
    page: int
    per_page: int
    total: int
    sort: str
    # The argument names of this list in the URL (a page showing two lists
    # gives each its own, e.g. "earned_page").
    page_arg: str = "page"
    sort_arg: str = "sort"

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.per_page))

    @property
    def first(self) -> int:
        """The position of the first row shown (1-based; 0 when none)."""
        return 0 if not self.items else (self.page - 1) * self.per_page + 1

    @property
    def last(self) -> int:
        return self.first + len(self.items) - 1 if self.items else 0

    @property
    def previous_url(self) -> str | None:
        return self.url(page=self.page - 1) if self.page > 1 else None

    @property
    def next_url(self) -> str | None:
        return self.url(page=self.page + 1) if self.page < self.pages else None

    def url(self, *, page: int | None = None, sort: str | None = None) -> str:
        """This page's URL, its filters kept, with another page or sort (a new
        sort starts at page 1)."""
        args: dict[str, Any] = request.args.to_dict()
        if sort is not None:
            args[self.sort_arg] = sort
            args.pop(self.page_arg, None)
        if page is not None:
            args[self.page_arg] = str(page)
        if args.get(self.page_arg) == "1":
            del args[self.page_arg]
        return url_for(request.endpoint or "", **{**(request.view_args or {}), **args})

    def sort_url(self, key: str) -> str:
        """The URL sorting by `key`: descending if it sorts ascending now."""
        return self.url(sort=f"-{key}" if self.sort == key else key)

    def sorted_by(self, key: str) -> str:
        """The column's aria-sort value: "ascending", "descending" or "none"."""
        if self.sort == key:
            return "ascending"
        return "descending" if self.sort == f"-{key}" else "none"


def requested_sort(sorts: Mapping[str, Any], default: str, sort_arg: str = "sort") -> str:
    """The sort the request asks for (`?sort=key` or `?sort=-key`), if `sorts`
    knows it; else `default`."""
    wanted = request.args.get(sort_arg)
    if wanted and wanted.removeprefix("-") in sorts:
        return wanted
    return default


def ordering(sort: str, sorts: Mapping[str, Any], tiebreak: Any) -> tuple[Any, Any]:
    """ORDER BY for `sort` (a key of `sorts`, "-" first for descending), newest
    `tiebreak` first among equals."""
    column = sorts[sort.removeprefix("-")]
    return (column.desc() if sort.startswith("-") else column.asc()), tiebreak.desc()


def requested_page(page_arg: str = "page", *, pages: int | None = None) -> int:
    """The page the request asks for (`?page=`, from 1), no further than `pages`."""
    page = max(1, request.args.get(page_arg, 1, type=int) or 1)
    return page if pages is None else min(page, pages)


def page_of(
    session: Session,
    query: Any,
    *,
    sorts: Mapping[str, Any],
    default: str,
    tiebreak: Any,
    per_page: int | None = None,
    page_arg: str = "page",
    sort_arg: str = "sort",
) -> ListPage:
    """The page the request asks for (`?page=`) of `query`, sorted as it asks
    (`?sort=`, a key of `sorts`, "-" first for descending), newest `tiebreak`
    first among equals. Rows are what `session.execute` returns: one entity
    per row when the query selects one, else tuples."""
    per_page = per_page or PER_PAGE
    sort = requested_sort(sorts, default, sort_arg)
    total = int(
        session.scalar(select(func.count()).select_from(query.order_by(None).subquery())) or 0
    )
    page = requested_page(page_arg, pages=max(1, -(-total // per_page)))
    result = session.execute(
        query.order_by(None)
        .order_by(*ordering(sort, sorts, tiebreak))
        .limit(per_page)
        .offset((page - 1) * per_page)
    )
    rows = list(result.scalars()) if len(result.keys()) == 1 else list(result.all())
    return ListPage(
        items=rows,
        page=page,
        per_page=per_page,
        total=total,
        sort=sort,
        page_arg=page_arg,
        sort_arg=sort_arg,
    )
