"""The city's configuration, with defaults that work out of the box.

Issue #3 adds reading and validating ``civic.toml``; everything here has a default, so a
fresh install runs with no file at all.
"""

from __future__ import annotations

from collections.abc import Mapping

import attrs


@attrs.frozen
class SurveyConfig:
    """The closing survey: the scale and how often a refused answer is asked again."""

    scale_min: int = 0
    scale_max: int = 10
    max_attempts: int = 3


@attrs.frozen
class Config:
    """Everything a city can set. ``departments=None`` enables every installed one."""

    city: str = "Casa do Cidadão"
    locale: str = "pt-BR"
    departments: tuple[str, ...] | None = None
    texts: Mapping[str, str] = attrs.field(factory=dict)
    survey: SurveyConfig = attrs.field(factory=SurveyConfig)
    form_max_failures: int = 3
