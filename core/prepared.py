"""Statements compiled once and run on the driver's own cursor: the per-message path.

SQLAlchemy's ``Connection.execute`` is generic: per call it looks up the compiled cache,
builds an execution context, dispatches events and wraps the cursor in a result. On the
path every inbound message takes (a dozen statements) that machinery costs several
times what the database itself does. A :class:`Prepared` statement is a SQLAlchemy Core
statement compiled *once* for the database in use; running it converts the parameters
with the column types' own bind processors, calls the DB-API cursor directly and converts
the row with the types' result processors, so values are exactly what SQLAlchemy would
have given (aware UTC datetimes included). The SQL itself stays in :mod:`civic.storage`.

A driver error is raised as SQLAlchemy's :class:`~sqlalchemy.exc.DBAPIError` subclass
(``IntegrityError``, ``OperationalError``...), as ``Connection.execute`` would.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Dialect

Processor = Callable[[Any], Any]


def _reader(type_: Any, dialect: Dialect) -> Processor | None:
    """How a column of ``type_`` is read: its type's own result processor. A float
    (``sa.Float``) is read as a float: SQLAlchemy's processor for it on psycopg chooses by
    the driver's type code, which is only known once the statement has run."""
    if isinstance(type_, sa.Float) and not type_.asdecimal:
        return float
    processor: Processor | None = type_.dialect_impl(dialect).result_processor(dialect, None)
    return processor


class Prepared:
    """One statement, compiled for one dialect.

    :param statement: a Core statement whose parameters are named ``bindparam``\\ s (or,
        for an INSERT or UPDATE, the columns named by ``columns``).
    :param dialect: the database's dialect.
    :param columns: for an INSERT or UPDATE, the columns it sets (the keys of the
        parameters it will be given).
    """

    def __init__(
        self, statement: Any, dialect: Dialect, columns: Sequence[str] | None = None
    ) -> None:
        compiled = statement.compile(dialect=dialect, column_keys=list(columns or ()) or None)
        self.sql: str = compiled.string
        #: Whether it writes (an INSERT, UPDATE or DELETE).
        self.writes: bool = bool(getattr(statement, "is_dml", False))
        binds = compiled.binds
        #: Parameter names in the order the driver wants them (positional styles), or
        #: ``None`` when the driver takes a mapping.
        self.order: tuple[str, ...] | None = (
            tuple(compiled.positiontup or ()) if compiled.positional else None
        )
        self.names: tuple[str, ...] = self.order or tuple(binds)
        self.keys: dict[str, str] = {name: binds[name].key for name in self.names}
        #: Values the statement fixes itself (a ``LIMIT 1``), used unless given.
        self.defaults: dict[str, Any] = {
            binds[name].key: binds[name].value
            for name in self.names
            if not binds[name].required and binds[name].value is not None
        }
        self.binders: dict[str, Processor] = {}
        for name in self.names:
            processor = binds[name].type.dialect_impl(dialect).bind_processor(dialect)
            if processor is not None:
                self.binders[name] = processor
        # a SELECT's columns, or an INSERT's or UPDATE's RETURNING columns (none without)
        selected = getattr(statement, "selected_columns", None)
        if selected is None:
            selected = getattr(statement, "exported_columns", ())
        self.columns: tuple[str, ...] = tuple(c.key for c in selected or ())
        self.readers: tuple[Processor | None, ...] = tuple(
            _reader(c.type, dialect) for c in selected or ()
        )

    def parameters(self, values: Mapping[str, Any]) -> Sequence[Any] | dict[str, Any]:
        """``values`` (by bind key) as the driver takes them."""
        binders = self.binders
        if self.defaults:
            values = {**self.defaults, **values}
        if self.order is not None:
            out = []
            for name in self.order:
                value = values[self.keys[name]]
                binder = binders.get(name)
                out.append(value if binder is None or value is None else binder(value))
            return out
        converted = {}
        for name in self.names:
            value = values[self.keys[name]]
            binder = binders.get(name)
            converted[name] = value if binder is None or value is None else binder(value)
        return converted

    def run(self, cursor: Any, values: Mapping[str, Any], dbapi: Any) -> Any:
        """Execute with ``values``; returns the cursor (its rows not yet fetched)."""
        parameters = self.parameters(values)
        try:
            cursor.execute(self.sql, parameters)
        except dbapi.Error as exc:
            raise sa.exc.DBAPIError.instance(  # the values never in the error's text
                self.sql, parameters, exc, dbapi.Error, hide_parameters=True, dialect=None
            ) from exc
        return cursor

    def row(self, raw: Sequence[Any] | None) -> dict[str, Any] | None:
        """A fetched row as a dict by column key, each value as SQLAlchemy reads it."""
        if raw is None:
            return None
        return {
            key: value if reader is None or value is None else reader(value)
            for key, reader, value in zip(self.columns, self.readers, raw, strict=True)
        }
