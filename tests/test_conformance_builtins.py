"""The built-in departments pass civic's conformance suite, each with one line
(:class:`civic.testing.DepartmentConformance`; see docs/testing.md)."""

from __future__ import annotations

from civic.testing import DepartmentConformance


class TestCac(DepartmentConformance):
    department = "cac"


class TestProcon(DepartmentConformance):
    department = "procon"


class TestJsm(DepartmentConformance):
    department = "jsm"
